# streamgate: token gateway for HLS and DASH.
#   docker build -t streamgate .
#   docker run -p 8080:8080 -v "$PWD/config.yaml:/etc/streamgate/config.yaml:ro" streamgate
# Keys come from the config file, a mounted file (secretFile) or the environment (secretEnv,
# STREAMGATE_SECRET); see docs/operations.md.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No lifecycle scripts: "prepare" would build before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    STREAMGATE_HOST=0.0.0.0 \
    STREAMGATE_PORT=8080
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
USER node
EXPOSE 8080
# The slim image has no curl: node itself asks /_streamgate/healthz (503 while shutting down), on the
# admin port when STREAMGATE_ADMIN_PORT moves health and metrics off the media port.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "require('node:http').get({host:'127.0.0.1',port:process.env.STREAMGATE_ADMIN_PORT||process.env.STREAMGATE_PORT||8080,path:'/_streamgate/healthz',timeout:2000},(r)=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1)).on('timeout',()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/streamgate.js", "serve"]
CMD ["--config", "/etc/streamgate/config.yaml"]
