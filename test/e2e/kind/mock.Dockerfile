# The OpenAI-format mock for the kind e2e. Context: a folder holding mock.mjs, the esbuild bundle
# of test/e2e/kind/mock-server.ts (run.sh makes it).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim
FROM ${NODE_IMAGE}
COPY mock.mjs /app/mock.mjs
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["node", "/app/mock.mjs"]
