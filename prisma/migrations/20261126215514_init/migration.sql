-- CreateEnum
CREATE TYPE "HospitalStatus" AS ENUM ('active', 'disabled');

-- CreateEnum
CREATE TYPE "TrainingRunStatus" AS ENUM ('pending', 'running', 'completed', 'failed', 'cancelled');

-- CreateEnum
CREATE TYPE "RoundStatus" AS ENUM ('pending', 'dispatched', 'aggregating', 'completed', 'failed');

-- CreateEnum
CREATE TYPE "ClientUpdateStatus" AS ENUM ('dispatched', 'training', 'received', 'accepted', 'rejected', 'failed', 'timed_out');

-- CreateEnum
CREATE TYPE "ModelStage" AS ENUM ('candidate', 'production', 'archived');

-- CreateTable
CREATE TABLE "Hospital" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "baseUrl" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "tokenRotatedAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "status" "HospitalStatus" NOT NULL DEFAULT 'active',
    "lastSeenAt" TIMESTAMPTZ(3),
    "sampleCount" INTEGER,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Hospital_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "TrainingRun" (
    "id" TEXT NOT NULL,
    "status" "TrainingRunStatus" NOT NULL DEFAULT 'pending',
    "settings" JSONB NOT NULL,
    "currentRound" INTEGER NOT NULL DEFAULT 0,
    "failureReason" TEXT,
    "promoteOnFinish" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),

    CONSTRAINT "TrainingRun_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "Round" (
    "id" TEXT NOT NULL,
    "runId" TEXT NOT NULL,
    "index" INTEGER NOT NULL,
    "status" "RoundStatus" NOT NULL DEFAULT 'pending',
    "selectedHospitalIds" TEXT[],
    "deadlineAt" TIMESTAMPTZ(3),
    "startedAt" TIMESTAMPTZ(3),
    "finishedAt" TIMESTAMPTZ(3),
    "metrics" JSONB,
    "failureReason" TEXT,
    "inputModelId" TEXT,
    "outputModelId" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "Round_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ClientUpdate" (
    "id" TEXT NOT NULL,
    "roundId" TEXT NOT NULL,
    "hospitalId" TEXT NOT NULL,
    "status" "ClientUpdateStatus" NOT NULL DEFAULT 'dispatched',
    "numSamples" INTEGER,
    "metrics" JSONB,
    "sha256" TEXT,
    "sizeBytes" INTEGER,
    "failureReason" TEXT,
    "durationMs" INTEGER,
    "jobId" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "ClientUpdate_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "ModelVersion" (
    "id" TEXT NOT NULL,
    "runId" TEXT,
    "roundIndex" INTEGER,
    "version" SERIAL NOT NULL,
    "sha256" TEXT NOT NULL,
    "sizeBytes" INTEGER NOT NULL,
    "architecture" TEXT NOT NULL,
    "inputSize" INTEGER NOT NULL,
    "metadata" JSONB NOT NULL,
    "metrics" JSONB,
    "stage" "ModelStage" NOT NULL DEFAULT 'candidate',
    "storagePath" TEXT NOT NULL,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "ModelVersion_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "WeightDownload" (
    "id" TEXT NOT NULL,
    "hospitalId" TEXT NOT NULL,
    "modelVersionId" TEXT NOT NULL,
    "runId" TEXT,
    "createdAt" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "WeightDownload_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "AuditEvent" (
    "id" TEXT NOT NULL,
    "at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "actor" TEXT NOT NULL,
    "action" TEXT NOT NULL,
    "subjectType" TEXT,
    "subjectId" TEXT,
    "details" JSONB,

    CONSTRAINT "AuditEvent_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "Hospital_name_key" ON "Hospital"("name");

-- CreateIndex
CREATE INDEX "Hospital_status_idx" ON "Hospital"("status");

-- CreateIndex
CREATE INDEX "TrainingRun_status_createdAt_idx" ON "TrainingRun"("status", "createdAt");

-- CreateIndex
CREATE INDEX "Round_status_deadlineAt_idx" ON "Round"("status", "deadlineAt");

-- CreateIndex
CREATE UNIQUE INDEX "Round_runId_index_key" ON "Round"("runId", "index");

-- CreateIndex
CREATE INDEX "ClientUpdate_hospitalId_createdAt_idx" ON "ClientUpdate"("hospitalId", "createdAt");

-- CreateIndex
CREATE UNIQUE INDEX "ClientUpdate_roundId_hospitalId_key" ON "ClientUpdate"("roundId", "hospitalId");

-- CreateIndex
CREATE UNIQUE INDEX "ModelVersion_version_key" ON "ModelVersion"("version");

-- CreateIndex
CREATE UNIQUE INDEX "ModelVersion_sha256_key" ON "ModelVersion"("sha256");

-- CreateIndex
CREATE INDEX "ModelVersion_stage_version_idx" ON "ModelVersion"("stage", "version");

-- CreateIndex
CREATE INDEX "ModelVersion_runId_roundIndex_idx" ON "ModelVersion"("runId", "roundIndex");

-- CreateIndex
CREATE INDEX "WeightDownload_hospitalId_runId_idx" ON "WeightDownload"("hospitalId", "runId");

-- CreateIndex
CREATE INDEX "WeightDownload_runId_idx" ON "WeightDownload"("runId");

-- CreateIndex
CREATE INDEX "WeightDownload_modelVersionId_idx" ON "WeightDownload"("modelVersionId");

-- CreateIndex
CREATE INDEX "AuditEvent_at_idx" ON "AuditEvent"("at");

-- CreateIndex
CREATE INDEX "AuditEvent_subjectType_subjectId_at_idx" ON "AuditEvent"("subjectType", "subjectId", "at");

-- CreateIndex
CREATE INDEX "AuditEvent_actor_at_idx" ON "AuditEvent"("actor", "at");

-- AddForeignKey
ALTER TABLE "Round" ADD CONSTRAINT "Round_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Round" ADD CONSTRAINT "Round_inputModelId_fkey" FOREIGN KEY ("inputModelId") REFERENCES "ModelVersion"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "Round" ADD CONSTRAINT "Round_outputModelId_fkey" FOREIGN KEY ("outputModelId") REFERENCES "ModelVersion"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ClientUpdate" ADD CONSTRAINT "ClientUpdate_roundId_fkey" FOREIGN KEY ("roundId") REFERENCES "Round"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ClientUpdate" ADD CONSTRAINT "ClientUpdate_hospitalId_fkey" FOREIGN KEY ("hospitalId") REFERENCES "Hospital"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "ModelVersion" ADD CONSTRAINT "ModelVersion_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WeightDownload" ADD CONSTRAINT "WeightDownload_hospitalId_fkey" FOREIGN KEY ("hospitalId") REFERENCES "Hospital"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WeightDownload" ADD CONSTRAINT "WeightDownload_modelVersionId_fkey" FOREIGN KEY ("modelVersionId") REFERENCES "ModelVersion"("id") ON DELETE NO ACTION ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "WeightDownload" ADD CONSTRAINT "WeightDownload_runId_fkey" FOREIGN KEY ("runId") REFERENCES "TrainingRun"("id") ON DELETE CASCADE ON UPDATE CASCADE;
