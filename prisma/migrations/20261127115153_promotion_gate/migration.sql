-- AlterTable
ALTER TABLE "TrainingRun" ADD COLUMN     "promotionRefusedReason" TEXT;
