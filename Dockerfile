# crdt-node image: the daemon (packages/crdt-node/dist/bin/crdt-node.js) and the demo load generator
# (packages/crdt-node/dist/bin/crdt-loadgen.js), built from the npm workspace: the library
# (crdt-replicator, dist/) and the daemon package that depends on it.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/crdt-node/package.json ./packages/crdt-node/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY proto ./proto
COPY src ./src
COPY packages/crdt-node/tsconfig.json ./packages/crdt-node/
COPY packages/crdt-node/src ./packages/crdt-node/src
COPY packages/crdt-node/bin ./packages/crdt-node/bin
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production \
    CRDT_HTTP_ADDR=0.0.0.0:8080
COPY --from=build /app/package.json ./
# node_modules/crdt-replicator and node_modules/crdt-node are the workspace's links to /app and packages/crdt-node.
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/packages/crdt-node/package.json ./packages/crdt-node/
COPY --from=build /app/packages/crdt-node/dist ./packages/crdt-node/dist
# Read at run time from the daemon package's src/ (tsc copies no .html into dist/).
COPY packages/crdt-node/src/dashboard.html ./packages/crdt-node/src/dashboard.html
# Snapshots live under /data (a volume); the image's /data gives the volume its owner.
RUN mkdir -p /data && chown node:node /data
USER node
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s \
  CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "packages/crdt-node/dist/bin/crdt-node.js"]
