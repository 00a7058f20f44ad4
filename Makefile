# WattOS KI. The two commands of the README:
#   make run    install what is missing, build the server and the web UI, start `wattos serve` on
#               port 3001 (embedded defaults) serving the UI at /
#   make test   install what is missing, build with sanitizers, start PostgreSQL and Redis on
#               loopback, run every test, fuzz briefly, stop the servers
.PHONY: run test build web deps bench fuzz lint format clean

JOBS ?= $(shell nproc)
BUILD_DIR ?= build/release

deps:
	scripts/deps.sh build

build: deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DWATTOS_TESTS=OFF -DWATTOS_BENCH=OFF >/dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS) --target wattos

# The web UI (web/out): rebuilt only when its sources changed since the last build.
web: deps
	scripts/web-build.sh

run: build web
	WATTOS_SERVER_STATIC_DIR=web/out $(BUILD_DIR)/src/app/wattos serve --config config/wattos.yaml

test:
	scripts/test.sh

bench:
	scripts/deps.sh bench
	bench/run.sh --record
	bench/gateway.sh --record
	bench/llm.sh --record
	bench/rag.sh --record
	bench/queue.sh --record
	bench/ingest.sh --record

fuzz:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-120} scripts/fuzz.sh

lint:
	scripts/lint.sh

format:
	clang-format -i $$(git ls-files '*.cpp' '*.hpp')

clean:
	rm -rf build
