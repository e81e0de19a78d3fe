# rnnlua — build, tests, demo, sanitizers, benchmarks.
#
#   make            ./rnnlua and the loadable modules rnn/core.so and rnn/mpi.so
#   make run        installs what is missing, builds, runs the default experiment
#   make test       installs what is missing, builds, runs every test
#   make asan       the whole test suite under AddressSanitizer + UBSan
#   make tsan       the C kernel tests and a threaded training script under
#                   ThreadSanitizer, 2 threads (build/tsan; tests/tsan.sh;
#                   make test runs it too, make asan does not)
#   make bench      benchmarks against PyTorch (needs python3-torch)
#   make fuzz       the libFuzzer targets of tests/fuzz, FUZZ_SECONDS each
#   make doc        the HTML API reference in build/doc (LDoc)
#   make install PREFIX=/usr/local
#   make clean
#
# build-only and install-only do the same without the Debian package check
# (tools/deps.sh): what luarocks (rnnlua-*.rockspec) and packagers run.

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
LUA_LIBDIR   ?= $(PREFIX)/lib/lua/5.4
LUA_SHAREDIR ?= $(PREFIX)/share/lua/5.4
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/rnnlua
VERSION := 0.1.0
PKGS    := lua5.4 openblas lapacke jansson

CC      ?= cc
OPT     ?= -O2 -g
# -ffp-contract=off: no fused multiply-add contraction, so results do not
# depend on what the compiler chose to fuse (reproducibility to the bit).
# -fvisibility=hidden: a shared object built from these exports only what is
# marked visible (luaopen_rnn_core, luaopen_rnn_mpi); calls between the
# core's units stay inside it, direct rather than through the PLT.
CFLAGS  += -std=c11 $(OPT) -Wall -Wextra -ffp-contract=off -fPIC -fvisibility=hidden \
           -D_POSIX_C_SOURCE=200809L -DRNNLUA_VERSION='"$(VERSION)"'
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS    = $(PKG_LIBS) -lm -pthread
EXE_LIBS = $(LIBS) -lreadline

CORE_SRC := $(wildcard core/*.c)
# the executable's command line and REPL (readline): not in core.so
EXE_SRC  := bindings/rnnlua.c bindings/repl.c
BIND_SRC := $(filter-out $(EXE_SRC),$(wildcard bindings/*.c))
CTEST_SRC := $(wildcard tests/c/*.c)
HEADERS  := $(wildcard core/*.h bindings/*.h tests/c/*.h)

B ?= build
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)
BIND_OBJ := $(BIND_SRC:%.c=$(B)/%.o)
CTEST_OBJ := $(CTEST_SRC:%.c=$(B)/%.o)
EXE_OBJ  := $(EXE_SRC:%.c=$(B)/%.o)

DEPS_OK := build/.deps-ok
TEST_DEPS_OK := build/.test-deps-ok

.PHONY: all build-only run test asan tsan tsan-build bench install install-only clean deps check-pkgs doc fuzz fuzz-build

all: $(DEPS_OK)
	@$(MAKE) --no-print-directory build-only

# rnn/mpi.so only where OpenMPI's pkg-config file is (always after
# tools/deps.sh; a luarocks build elsewhere gets rnn.distributed at size 1).
MPI_OK := $(shell pkg-config --exists ompi-c 2>/dev/null && echo yes)
build-only: check-pkgs
	@$(MAKE) --no-print-directory rnnlua rnn/core.so $(if $(MPI_OK),rnn/mpi.so) scripts/rnn/help_data.lua

# Without pkg-config or a library's .pc file the compiler would fail later
# on a missing header; say which package is missing instead.
check-pkgs:
	@command -v pkg-config >/dev/null || { echo "rnnlua: pkg-config not found (Debian: pkg-config)" >&2; exit 1; }
	@for p in $(PKGS); do pkg-config --exists $$p || { \
		echo "rnnlua: pkg-config does not know '$$p' (Debian: lua5.4 -> liblua5.4-dev," \
		     "openblas -> libopenblas-dev, lapacke -> liblapacke-dev, jansson -> libjansson-dev)" >&2; exit 1; }; done

$(DEPS_OK): tools/deps.sh
	@sh tools/deps.sh
	@mkdir -p build && touch $@

# what only the tests need on top (a single-node Slurm for the launcher test)
$(TEST_DEPS_OK): tools/deps.sh
	@sh tools/deps.sh test
	@mkdir -p build && touch $@

deps:
	@sh tools/deps.sh

$(B)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -c $< -o $@

# The sigmoid and tanh loops of core/vmath.h (recurrent kernels, unary ops) vectorise only
# at -O3 and when comparisons may be if-converted (no FP traps are observed
# here; values are unchanged).
# tests/c/test_isa.o compiles those loops as they do, to compare their copies.
$(B)/core/rnn.o $(B)/core/ops.o $(B)/tests/c/test_isa.o: CFLAGS += -O3 -fno-trapping-math
# The optimizers' element loops (core/optim.c) vectorise at -O3 once sqrt
# needs no errno check (it never sets errno here: its argument is >= 0 or NaN).
$(B)/core/optim.o: CFLAGS += -O3 -fno-math-errno
# The tiles of core/gemm_kernel.h keep their sums in registers only once
# -O3 unrolls the loops over rows and vectors completely.
$(B)/core/gemm.o: CFLAGS += -O3

rnnlua: $(EXE_OBJ) $(BIND_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(EXE_LIBS) $(LDFLAGS)

# bindings/core.map: core.so exports luaopen_rnn_core and nothing else (its
# rl_* names would otherwise collide with readline's in a plain lua5.4).
scripts/rnn/core.so: $(BIND_OBJ) $(CORE_OBJ) bindings/core.map
	$(CC) $(CFLAGS) -shared -Wl,--version-script=bindings/core.map -o $@ $(BIND_OBJ) $(CORE_OBJ) $(LIBS) $(LDFLAGS)

# rnn is a symlink to scripts/rnn, so plain lua5.4 run from here finds both
# rnn/init.lua and rnn/core.so.
rnn/core.so: scripts/rnn/core.so

# rnn.distributed's MPI half (bindings/mpi/, outside the bindings/*.c of
# core.so): a module of its own, so that only a script that uses
# rnn.distributed under mpirun loads libmpi. It links no core object (the
# core's global state would exist twice) and no Lua library (the
# interpreter's symbols serve it). build/asan/scripts/rnn/mpi.so is the
# sanitized one, which build/asan/rnnlua finds next to itself.
MPI_CFLAGS = $(shell pkg-config --cflags ompi-c 2>/dev/null)
MPI_LIBS   = $(shell pkg-config --libs ompi-c 2>/dev/null)
$(B)/bindings/mpi/distributed.o: CFLAGS += $(MPI_CFLAGS) -O3

scripts/rnn/mpi.so build/asan/scripts/rnn/mpi.so: $(B)/bindings/mpi/distributed.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -shared -o $@ $^ $(MPI_LIBS) -ldl $(LDFLAGS)

rnn/mpi.so: scripts/rnn/mpi.so

# rnn.help's text: the doc comments of the files config.ld lists, which
# `make doc` (LDoc, into build/doc) reads too.
DOC_SRC := $(shell find scripts/rnn -name '*.lua' ! -name help_data.lua) $(wildcard bindings/*.c)
scripts/rnn/help_data.lua: tools/help_data.lua config.ld $(DOC_SRC)
	lua5.4 tools/help_data.lua config.ld > $@.tmp && mv $@.tmp $@

doc: scripts/rnn/help_data.lua
	@sh tools/deps.sh doc
	ldoc -c config.ld -d build/doc .

$(B)/test_core: $(CTEST_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS) $(LDFLAGS)

test: $(TEST_DEPS_OK) all
	@$(MAKE) --no-print-directory $(B)/test_core fuzz-build tsan-build
	@sh tests/run.sh ./rnnlua $(B)/test_core

# Everything rebuilt with the sanitizers into build/asan, then the same suite.
ASAN_FLAGS := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow \
              -fno-omit-frame-pointer
# tests/lsan.supp: OpenMPI's own leaks (see there and bindings/mpi/distributed.c).
asan: $(DEPS_OK) $(TEST_DEPS_OK)
	@$(MAKE) --no-print-directory B=build/asan OPT="-O1 -g $(ASAN_FLAGS)" LDFLAGS="$(ASAN_FLAGS)" \
		build/asan/rnnlua build/asan/test_core build/asan/scripts/rnn/mpi.so scripts/rnn/help_data.lua
	@RNNLUA_SANITIZED=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1 \
		LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
		sh tests/run.sh build/asan/rnnlua build/asan/test_core

build/asan/rnnlua build/tsan/rnnlua: $(EXE_OBJ) $(BIND_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) -o $@ $^ $(EXE_LIBS) $(LDFLAGS)

# The core and the bindings rebuilt with ThreadSanitizer into build/tsan;
# tests/tsan.sh runs the C kernel tests with the thread pool at 2 threads
# and a short training script at 2 threads through build/tsan/rnnlua.
# OpenBLAS is not instrumented (its accesses are not recorded): it starts
# single-threaded there (OPENBLAS_NUM_THREADS=1), see tests/tsan.sh.
# The core and its tests are compiled with __SANITIZE_ADDRESS__ defined, as
# the fuzz build does, for what it leaves out: the target_clones, whose
# ifunc resolvers run while the program is relocated, before TSan is set
# up, and crash in its instrumentation (__tsan_func_entry); and the storage
# pool's recycling (storage.h), single-threaded anyway.
TSAN_FLAGS := -fsanitize=thread -fno-omit-frame-pointer
tsan: tsan-build
	@sh tests/tsan.sh build/tsan/test_core build/tsan/rnnlua

tsan-build: $(DEPS_OK)
	@$(MAKE) --no-print-directory B=build/tsan OPT="-O1 -g $(TSAN_FLAGS)" LDFLAGS="$(TSAN_FLAGS)" \
		CORE_DEFS=-D__SANITIZE_ADDRESS__=1 build/tsan/rnnlua build/tsan/test_core scripts/rnn/help_data.lua
$(B)/core/%.o $(B)/tests/c/%.o: CFLAGS += $(CORE_DEFS)

# libFuzzer targets (tests/fuzz/README.md): the core and the bindings
# rebuilt with Clang, ASan, UBSan and coverage into build/fuzz. Clang 14
# does not define __SANITIZE_ADDRESS__ under -fsanitize=address, which
# core/storage.h, core/tensor.c and bindings/lalloc.c test: defined here.
FUZZ_B := build/fuzz
FUZZ_SAN := -fsanitize=address,undefined,float-cast-overflow -fno-sanitize-recover=undefined,float-cast-overflow \
            -fno-omit-frame-pointer
FUZZ_TARGETS := safetensors json runfolder metrics checkpoint
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_B)/fuzz_%)
FUZZ_SECONDS ?= 600

fuzz-build: $(DEPS_OK) $(TEST_DEPS_OK)
	@$(MAKE) --no-print-directory B=$(FUZZ_B) CC=clang \
		OPT="-O1 -g -fsanitize=fuzzer-no-link $(FUZZ_SAN) -D__SANITIZE_ADDRESS__=1" $(FUZZ_BINS)

$(FUZZ_B)/fuzz_safetensors: tests/fuzz/safetensors_fuzz.c $(CORE_OBJ)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(FUZZ_B)/fuzz_%: tests/fuzz/lua_fuzz.c $(BIND_OBJ) $(CORE_OBJ)
	$(CC) $(CFLAGS) $(PKG_CFLAGS) -fsanitize=fuzzer -DRNN_FUZZ_TARGET='"$*"' -DRNN_FUZZ_ROOT='"$(CURDIR)"' \
		-o $@ $^ $(LIBS)

# Each target for FUZZ_SECONDS on its seed corpus (tests/fuzz/corpus/T);
# what libFuzzer adds goes to build/fuzz/corpus/T, crashes to
# build/fuzz/findings/T. One target at a time: the machine has two cores.
fuzz: fuzz-build
	@sh tests/fuzz/run.sh long $(FUZZ_SECONDS) $(FUZZ_B) $(FUZZ_TARGETS)

# The h0 comparison with its small defaults (about a minute on two cores);
# rerunning skips finished runs. Its report: runs/h0_comparison/index.html.
run: all
	./rnnlua experiments/h0_comparison.lua
	@echo "report: $(CURDIR)/runs/h0_comparison/index.html (summary: runs/h0_comparison/summary.md)"

bench: all
	@sh tools/deps.sh bench
	@sh bench/run.sh

# The layout plain lua5.4 searches (LUA_PATH/LUA_CPATH for another prefix)
# and rnnlua finds next to its bin/. luarocks sets the four directories.
install: all
	@$(MAKE) --no-print-directory install-only

install-only: build-only
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LUA_LIBDIR)/rnn $(DESTDIR)$(LUA_SHAREDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 755 rnnlua $(DESTDIR)$(BINDIR)/rnnlua
	install -m 755 scripts/rnn/core.so $(DESTDIR)$(LUA_LIBDIR)/rnn/core.so
	$(if $(MPI_OK),install -m 755 scripts/rnn/mpi.so $(DESTDIR)$(LUA_LIBDIR)/rnn/mpi.so)
	cd scripts && find rnn -name '*.lua' -exec install -D -m 644 {} $(DESTDIR)$(LUA_SHAREDIR)/{} \;
	install -m 644 rnnlua.1 $(DESTDIR)$(MANDIR)/man1/rnnlua.1
	install -D -m 644 LICENSE $(DESTDIR)$(DOCDIR)/LICENSE

clean:
	rm -rf build rnnlua scripts/rnn/core.so scripts/rnn/mpi.so scripts/rnn/help_data.lua
