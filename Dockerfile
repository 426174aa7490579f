# syntax=docker/dockerfile:1.7
# poolpilot: build the TypeScript once, ship only what runs it.
ARG NODE_VERSION=20

# Compiles src/ to dist/. The embedded PostgreSQL binaries (optional dependencies) are left out:
# in a container poolpilot always pools against a configured server.
FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=optional --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# Production dependencies only.
FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3338
WORKDIR /app
RUN groupadd --system --gid 10001 poolpilot \
 && useradd --system --uid 10001 --gid poolpilot --home-dir /app --shell /usr/sbin/nologin poolpilot
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
USER poolpilot
EXPOSE 3338 6432
# /health answers 503 when the primary is unreachable, which fails the check.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3338)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# SIGTERM drains in-flight queries for up to SHUTDOWN_GRACE_MS; give `docker stop -t` more than that.
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
