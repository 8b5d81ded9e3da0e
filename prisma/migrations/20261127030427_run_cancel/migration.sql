-- AlterEnum
ALTER TYPE "RoundStatus" ADD VALUE 'cancelled';

-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "cancelReason" TEXT,
ADD COLUMN     "cancelledAt" TIMESTAMPTZ(3),
ADD COLUMN     "cancelledBy" TEXT;
