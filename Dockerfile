# edgewise origin. Multi-stage: compile TypeScript with dev dependencies, then ship compiled
# JavaScript with production dependencies only, on Node 24 LTS, as the non-root `node` user.
# test/foundation/production-layout.test.ts reproduces the runtime stage's layout without a
# Docker engine (same COPY list, `npm ci --omit=dev`, same CMD and HEALTHCHECK).
# The HEALTHCHECK is `edgewise health`: it reads the same config as `serve` and speaks the
# protocol the origin is configured for (HTTP/1.1, h2c or TLS).

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    EDGEWISE__SERVER__HOST=0.0.0.0 \
    EDGEWISE__SERVER__PORT=8080 \
    EDGEWISE__STORAGE__FS__DATADIR=/data
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./package.json
COPY edge-functions ./edge-functions
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 CMD ["node", "dist/src/cli.js", "health"]
CMD ["node", "dist/src/cli.js", "serve"]
