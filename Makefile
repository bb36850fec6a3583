# postino: the two commands of the README, and the builds behind them.
#   make        build build/postino (optimised)
#   make run    install missing Debian packages, build, create ./run, serve
#   make test   install missing Debian packages, build with ASan+UBSan, run every test
#   make fuzz   build the libFuzzer targets and run each FUZZ_SECONDS (default 60);
#               FUZZ_TARGETS="spf-record spf-macro" runs only those

PYTHON      ?= /usr/bin/python3
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
RUN_DIR     ?= run

.PHONY: all build run test unit integration fuzz deps clean format

all: build

deps:
	@./scripts/install-deps

build/build.ninja:
	meson setup build --buildtype=release

build: build/build.ninja
	ninja -C build postino

build-test/build.ninja:
	CC=$${CC:-gcc} meson setup build-test --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

run: deps build
	@./scripts/run-demo $(RUN_DIR)

test: deps build-test/build.ninja
	ninja -C build-test
	$(MAKE) --no-print-directory unit integration

unit:
	meson test -C build-test --print-errorlogs

integration:
	POSTINO_BIN=$(CURDIR)/build-test/postino ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	$(PYTHON) -m pytest -q tests/integration

build-fuzz/build.ninja:
	CC=clang meson setup build-fuzz --buildtype=debugoptimized -Dfuzz=true \
	  -Db_sanitize=address,undefined -Db_lundef=false

fuzz: deps build-fuzz/build.ninja
	ninja -C build-fuzz
	@./tests/fuzz/run-all build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

clean:
	rm -rf build build-test build-fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')
