-- AlterTable
ALTER TABLE "Hospital" ADD COLUMN     "previousTokenExpiresAt" TIMESTAMPTZ(3),
ADD COLUMN     "previousTokenHash" TEXT;
