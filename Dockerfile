# fedxray's container images: one Dockerfile, one target per service, all on the same runtime
# stage (docs/deployment.md):
#
#   docker build --target aggregator    -t fedxray-aggregator .
#   docker build --target hospital-node -t fedxray-hospital-node .
#   docker build --target inference-api -t fedxray-inference-api .
#
# The services run from their TypeScript sources with tsx's loader (`node --import tsx`, as
# `npm start` does), so there is no compile step. Everything runs as uid 10001, the code is
# owned by root (the services cannot change it), and the only writable places a service needs
# are STATE_DIR (/var/lib/fedxray) and the temporary directory: the images run with a
# read-only root filesystem (compose.yaml, deploy/k8s). Not built or run in CI (no public base
# image can be pulled there); test/deploy/manifests.test.ts checks this file.
#
# No `# syntax=` line: BuildKit would pull that frontend image from Docker Hub before anything
# else, so an air-gapped build failed at once. Nothing here needs more than the frontend every
# engine has built in.

# NODE_IMAGE: the base of every stage, the official image by default. A machine that cannot pull
# it builds on a local stand-in instead (scripts/docker-offline-base.sh):
#   docker build --build-arg NODE_IMAGE=fedxray-local/node:20-bookworm-slim --target aggregator .
ARG NODE_IMAGE=node:20-bookworm-slim

# ---- deps: production node_modules and the generated Prisma client ---------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
ENV CHECKPOINT_DISABLE=1 \
    PRISMA_HIDE_UPDATE_MESSAGE=1
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma/schema.prisma prisma/schema.prisma
# --ignore-scripts: no install script runs, so none can download anything (@prisma/engines'
# would fetch a native engine that fedxray does not use). The Prisma client is generated
# explicitly instead (into shared/db/generated, as `npm install`'s postinstall does), and the
# optional @tensorflow/tfjs-node-gpu, useless without its install script and CUDA, is removed:
# the services use the WebAssembly backend (README, Backends). onnxruntime-node's package
# carries its native library for every platform (about 225 MB for macOS and Windows); a Linux
# image keeps the Linux ones (x64 and arm64) only.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npx prisma generate \
 && rm -rf node_modules/@tensorflow/tfjs-node-gpu \
      node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32 \
 && npm cache clean --force

# ---- runtime: what every service image shares ------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
RUN groupadd --system --gid 10001 fedxray \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin fedxray \
 && mkdir -p /var/lib/fedxray \
 && chown 10001:10001 /var/lib/fedxray
WORKDIR /app
# HOST: the services listen on 127.0.0.1 by default; in a container they must listen on all
# interfaces. STATE_DIR: each service's state (aggregator: model and update files; node: job
# history; inference API: the site's operating point) goes to one volume.
ENV HOST=0.0.0.0 \
    STATE_DIR=/var/lib/fedxray
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY prisma ./prisma
COPY shared ./shared
COPY --from=deps /app/shared/db/generated ./shared/db/generated
COPY services ./services
COPY deploy/docker ./deploy/docker
USER 10001:10001

# ---- aggregator: PORT 3000; applies prisma/migrations to DATABASE_URL at every start ---------
FROM runtime AS aggregator
ENV PORT=3000
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.mjs"]
CMD ["node", "--import", "tsx", "services/aggregator/main.ts"]

# ---- hospital-node: PORT 3101; DATA_DIR (the X-rays) is mounted read-only --------------------
FROM runtime AS hospital-node
ENV PORT=3101
EXPOSE 3101
HEALTHCHECK --interval=30s --timeout=5s --start-period=120s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.mjs"]
CMD ["node", "--import", "tsx", "services/hospital-node/main.ts"]

# ---- inference-api: PORT 3200; the shipped model inside, replaced by the aggregator's --------
# production model once AGGREGATOR_URL is set and one is promoted (docs/inference-api.md).
FROM runtime AS inference-api
COPY models/fl-se-resnet18-gn ./models/fl-se-resnet18-gn
ENV PORT=3200 \
    MODEL_DIR=/app/models/fl-se-resnet18-gn
EXPOSE 3200
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "deploy/docker/healthcheck.mjs"]
CMD ["node", "--import", "tsx", "services/inference-api/main.ts"]
