# One image for the engine's processes: the orchestrator worker (default), the API, fleetd and the demo seed.
# TypeScript runs through tsx, as in development; no build step.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production \
    DATA_DIR=/data \
    CATALOG_FILE=/app/config/catalog.json

COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

COPY domain ./domain
COPY workflows ./workflows
COPY activities ./activities
COPY providers ./providers
COPY api ./api
COPY workers ./workers
COPY fleet ./fleet
COPY demo ./demo
COPY cli ./cli
COPY bin ./bin
COPY config ./config
COPY scripts/seed-demo.ts ./scripts/seed-demo.ts

RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]

CMD ["node", "--import", "tsx", "workers/orchestrator.ts"]
