# streamgate: token gateway for HLS and DASH.
#   docker build -t streamgate .
#   docker run -p 8080:8080 -v "$PWD/config.yaml:/etc/streamgate/config.yaml:ro" streamgate
# Keys come from the config file, a mounted file (secretFile) or the environment (secretEnv,
# STREAMGATE_SECRET); see docs/operations.md. `docker kill -s HUP <container>` reloads keys and
# configuration without a restart.
#
# Base image: Node.js 24 (the Active LTS line; Node 20 reached its end of life in April 2026) on Debian 12
# slim, pinned by digest so that a rebuild gets the same bytes. The digest is the multi-platform index of
# node:24-bookworm-slim as published on Docker Hub when it carried Node 24.18.0 (July 2026), read from
# public projects that pin the same tag (e.g. the Dockerfile of github.com/cyanxxy/open-ocr-cli-mcp);
# these machines cannot reach Docker Hub. To refresh it, take the "Digest:" line of
#   docker buildx imagetools inspect node:24-bookworm-slim
# (or let Dependabot's "docker" ecosystem or Renovate propose it) and put it in NODE_IMAGE.
ARG NODE_IMAGE=node:24-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No lifecycle scripts: "prepare" would build before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY bin ./bin
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM ${NODE_IMAGE}
# The container listens on 0.0.0.0:8080 whatever the config file's listen says (the environment wins over
# the file; the gateway logs a warn line naming each file setting so replaced). Publish another host port
# with -p 9000:8080, or set -e STREAMGATE_PORT=… and EXPOSE accordingly.
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
