# syntax=docker/dockerfile:1
# One image for every gatelog service; the command picks the service:
#   docker run -p 4000:4000 -e GATELOG_MASTER_KEY=… IMAGE start
#                                            embedded: proxy + ingest + UI in one process (without
#                                            a master key it listens on 127.0.0.1 only)
#   docker run IMAGE proxy | ingest | ui     the distributed services (docker-compose.yml, deploy/k8s)
#   docker run IMAGE keys list --url URL     the CLI
# Dependencies come from pnpm-lock.yaml and the UI is built here, at build time: a container
# installs nothing when it starts. Build: `docker build -t gatelog .`
ARG NODE_IMAGE=node:24-bookworm-slim

# ---- pnpm and the workspace manifests (the layers every later stage shares).
FROM ${NODE_IMAGE} AS manifests
# corepack cannot fetch pnpm in every build environment; npm can.
RUN npm i -g pnpm@10 && npm cache clean --force
ENV CI=true
WORKDIR /app
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY patches/ patches/
COPY core/package.json core/
COPY proxy/package.json proxy/
COPY ingest/package.json ingest/
COPY ui/package.json ui/

# ---- every dependency (dev ones too), then the UI build.
FROM manifests AS build
RUN --mount=type=cache,id=gatelog-pnpm,target=/pnpm/store \
    pnpm install --frozen-lockfile --store-dir /pnpm/store
COPY . .
RUN pnpm --filter @gatelog/ui run build

# ---- production dependencies only (no typescript, vite, svelte, vitest, eslint).
FROM manifests AS prod-deps
RUN --mount=type=cache,id=gatelog-pnpm,target=/pnpm/store \
    pnpm install --frozen-lockfile --prod --store-dir /pnpm/store

# ---- the runtime image: Node 24 runs the TypeScript sources directly (type stripping).
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    GATELOG_DATA_DIR=/var/lib/gatelog \
    GATELOG_UI_BUILD=/app/ui/build
WORKDIR /app
COPY --from=prod-deps /app/ ./
COPY --from=build /app/ui/build/ ui/build/
COPY core/src/ core/src/
COPY proxy/src/ proxy/src/
COPY ingest/src/ ingest/src/
COPY src/ src/
COPY docker/entrypoint.mjs docker/healthcheck.mjs docker/ui-server.mjs docker/gatelog.distributed.yaml docker/
COPY gatelog.example.yaml ./
# The data dir (embedded store, event log, the proxy's Kafka spool) belongs to the service user.
# The code stays root-owned and read-only to it. UID 1000 is the base image's `node` user; a
# numeric USER lets Kubernetes' runAsNonRoot verify it.
RUN mkdir -p /var/lib/gatelog && chown 1000:1000 /var/lib/gatelog
USER 1000:1000
VOLUME ["/var/lib/gatelog"]
# proxy / embedded start: 4000; ingest: 4001 (health, metrics); ui: 3000.
EXPOSE 4000 4001 3000
# GATELOG_HEALTHCHECK_URL picks the service's health URL (default: the proxy's /healthz).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "/app/docker/healthcheck.mjs"]
ENTRYPOINT ["node", "/app/docker/entrypoint.mjs"]
CMD ["start"]
