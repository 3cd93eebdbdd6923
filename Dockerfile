# The app's own image (web + workers), used by docker-compose.yml. Node 26: the Active LTS (supported to April 2029).
FROM node:26-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# The client library is an npm workspace (src/buildkit): npm ci links it into node_modules.
COPY src/buildkit/package.json ./src/buildkit/
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY proto ./proto
COPY scripts/proto-descriptors.mjs scripts/config-validator.ts ./scripts/
COPY schema ./schema
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM node:26-bookworm-slim
ENV NODE_ENV=production
# glibc's allocator keeps the freed memory of large short-lived buffers (webhook bodies, log chunks) in its arenas,
# so the process stayed near its peak after a burst (BENCHMARKS.md, item 7: 196-279 MB five seconds after the hostile
# battery, 147-178 MB with these). A fixed mmap threshold gives every block of 128 KiB or more back when it is freed;
# two arenas keep each thread (body parsing, config checks, libuv's pool) from holding on to one of its own.
ENV MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
# node_modules/@buildkit-bot/buildkit links to src/buildkit: the library's package.json and its build.
COPY --from=build /app/src/buildkit/package.json ./src/buildkit/
COPY --from=build /app/src/buildkit/dist ./src/buildkit/dist
COPY --from=build /app/dist ./dist
COPY package.json app.yml ./
COPY schema ./schema
COPY bin ./bin
# The image's non-root user, uid/gid 1000: deploy/buildkitd.toml gives BuildKit's socket to that uid.
USER node
EXPOSE 3000
# Memory: a build's log stream allocates fast and briefly. A young generation of 2 x 4 MB (instead of up to
# 2 x 16 MB) and an old-generation cap of 128 MB (so V8 collects before it grows the heap far past what is live,
# about 30 MB per process) keep the worker under 150 MB through a log flood (BENCHMARKS.md, item 5). 4 MB rather
# than 1 MB: at webhook rates each delivery's parsed payload filled a 1 MB semi-space every few requests, and the
# extra scavenges cost the web role 5-35 % more CPU per delivery and a higher p99 (BENCHMARKS.md, item 1). The web
# role loosens the old generation's growth itself at start-up (src/app/role-heap.ts). Many builds
# per process (BUILDKIT_BOT_CONCURRENCY well above its default 2) may need a larger cap.
CMD ["node", "--max-semi-space-size=4", "--max-old-space-size=128", "dist/app/main.js"]
