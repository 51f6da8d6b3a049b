# tailor: one plain GNU Makefile.
#
#   make            build tailord, tailorctl, tailor-fetch, libtailor.{a,so}
#   make deps       check (and, as root, install) the Debian packages we need
#   make test       deps + build + every unit and integration test
#   make asan       the same tests built with ASan and UBSan (in build/asan)
#   make fuzz       every libFuzzer target (clang) for FUZZ_TIME seconds each
#   make fuzz-smoke the same, 10 seconds each (what CI runs)
#   make soak       load and soak test of one tailord (SOAK_SECONDS, default 600)
#   make run        start tailord on 127.0.0.1:8080 with ./tailor-data and the dashboard
#   make demo       deps + build, then a live simulated fleet on http://127.0.0.1:8080/
#   make install    PREFIX=/usr/local DESTDIR=
#
# CFLAGS, LDFLAGS, CC and PREFIX may be overridden on the command line.
# Warnings are errors when CI is set (as .ci/run does) or WERROR=1.

VERSION   := 0.1.0
SOVERSION := 0
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    ?= $(PREFIX)/bin
LIBDIR    ?= $(PREFIX)/lib
INCDIR    ?= $(PREFIX)/include
DATADIR   ?= $(PREFIX)/share/tailor
PKGCONFIG ?= pkg-config
B         ?= build

CFLAGS  ?= -O2 -g
LDFLAGS ?=

WARN := -Wall -Wextra -Wshadow -Wformat=2 -Wformat-security -Wpointer-arith \
        -Wcast-align -Wstrict-prototypes -Wmissing-prototypes -Wundef \
        -Wwrite-strings -Wvla -Wimplicit-fallthrough -Wold-style-definition
ifneq ($(strip $(CI)$(WERROR)),)
WARN += -Werror
endif
ifneq ($(SAN),)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

SDK_PKGS    := libzstd libsodium libcjson libcurl
SERVER_PKGS := libmicrohttpd sqlite3 libzstd libsodium libcjson
SDK_CFLAGS    = $(shell $(PKGCONFIG) --cflags $(SDK_PKGS) 2>/dev/null)
SDK_LIBS      = $(shell $(PKGCONFIG) --libs $(SDK_PKGS) 2>/dev/null)
SERVER_CFLAGS = $(shell $(PKGCONFIG) --cflags $(SERVER_PKGS) 2>/dev/null)
SERVER_LIBS   = $(shell $(PKGCONFIG) --libs $(SERVER_PKGS) 2>/dev/null)
TEST_LIBS     = $(shell $(PKGCONFIG) --libs cmocka 2>/dev/null)

ALL_CPPFLAGS := -D_GNU_SOURCE -DTAILOR_BUILDING -DTAILOR_VERSION_STRING='"$(VERSION)"' \
                -DCONFIG_DEFAULT_WEB_ROOT='"$(DATADIR)/dashboards/web"' \
                -Iclient-sdk/include -Iclient-sdk/src -Iserver -I$(B)/gen
ALL_CFLAGS    = -std=c11 -pthread $(WARN) $(SANFLAGS) $(CFLAGS)
ALL_LDFLAGS   = -pthread $(SANFLAGS) $(LDFLAGS)

# --- sources ---------------------------------------------------------------
SDK_SRC     := $(sort $(wildcard client-sdk/src/*.c))
SERVER_MAIN := server/tailord.c server/tailorctl.c
SERVER_SRC  := $(filter-out $(SERVER_MAIN),$(sort $(wildcard server/*.c)))
MIGRATIONS  := $(sort $(wildcard schema/[0-9][0-9][0-9][0-9]_*.sql))
UNIT_SRC    := $(sort $(wildcard tests/unit/test_*.c))
TOOL_SRC    := $(sort $(wildcard tests/tools/*.c))

SDK_OBJ     := $(SDK_SRC:%.c=$(B)/obj/%.o)
SERVER_OBJ  := $(SERVER_SRC:%.c=$(B)/obj/%.o) $(B)/obj/gen/migrations.o
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOL_BIN    := $(TOOL_SRC:tests/tools/%.c=$(B)/tests/%)
BENCH_SRC   := $(sort $(wildcard bench/*.c))
BENCH_BIN   := $(BENCH_SRC:bench/%.c=$(B)/bench/%)

PROGRAMS := $(B)/tailord $(B)/tailorctl $(B)/tailor-fetch
LIBS     := $(B)/libtailor.a $(B)/libtailor.so

.PHONY: all deps test unit integration asan run demo install uninstall clean bench bench-build soak \
        fuzz fuzz-build fuzz-smoke
.DEFAULT_GOAL := all

all: $(PROGRAMS) $(LIBS)

# Every object is position independent: the same objects go into libtailor.a
# and libtailor.so.
$(B)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -fvisibility=hidden $(SDK_CFLAGS) $(SERVER_CFLAGS) -MMD -MP -c $< -o $@

$(B)/obj/gen/migrations.o: $(B)/gen/migrations.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fPIC -c $< -o $@

# Migrations are embedded so an installed tailord needs no source tree.
$(B)/gen/migrations.c: $(MIGRATIONS) build-aux/embed-sql.sh
	@mkdir -p $(@D)
	sh build-aux/embed-sql.sh $(MIGRATIONS) > $@.tmp && mv $@.tmp $@

$(B)/libtailor.a: $(SDK_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/libtailor.so: $(SDK_OBJ)
	$(CC) -shared -Wl,-soname,libtailor.so.$(SOVERSION) $(ALL_LDFLAGS) -o $@ $^ $(SDK_LIBS) -lm

$(B)/libtailord.a: $(SERVER_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/tailord: $(B)/obj/server/tailord.o $(B)/libtailord.a $(B)/libtailor.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SERVER_LIBS) $(SDK_LIBS) -lm

$(B)/tailorctl: $(B)/obj/server/tailorctl.o $(B)/libtailord.a $(B)/libtailor.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SERVER_LIBS) $(SDK_LIBS) -lm

# tailor-fetch links only the public SDK, like any application would.
$(B)/tailor-fetch: $(B)/obj/client-sdk/tools/tailor-fetch.o $(B)/libtailor.a
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(SDK_LIBS) -lm

$(B)/tests/%: tests/unit/%.c $(B)/libtailord.a $(B)/libtailor.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(SDK_CFLAGS) $(SERVER_CFLAGS) -MMD -MP -o $@ $< \
	    $(B)/libtailord.a $(B)/libtailor.a $(ALL_LDFLAGS) $(TEST_LIBS) $(SERVER_LIBS) $(SDK_LIBS) -lm

$(B)/tests/%: tests/tools/%.c $(B)/libtailord.a $(B)/libtailor.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(SDK_CFLAGS) $(SERVER_CFLAGS) -MMD -MP -o $@ $< \
	    $(B)/libtailord.a $(B)/libtailor.a $(ALL_LDFLAGS) $(SERVER_LIBS) $(SDK_LIBS) -lm

# Benchmark programs (bench/*.c), e.g. the telemetry load generator.
$(B)/bench/%: bench/%.c $(B)/libtailord.a $(B)/libtailor.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(SDK_CFLAGS) $(SERVER_CFLAGS) -MMD -MP -o $@ $< \
	    $(B)/libtailord.a $(B)/libtailor.a $(ALL_LDFLAGS) $(SERVER_LIBS) $(SDK_LIBS) -lm

$(B)/tailor.pc: build-aux/tailor.pc.in Makefile
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCDIR@|$(INCDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' -e 's|@REQUIRES@|$(SDK_PKGS)|' $< > $@

# --- checks ----------------------------------------------------------------
deps:
	@sh build-aux/deps.sh

test: deps
	@$(MAKE) --no-print-directory all tests-build
	@B=$(B) bash tests/run.sh

tests-build: $(UNIT_BIN) $(TOOL_BIN)

asan: deps
	@$(MAKE) --no-print-directory B=build/asan SAN=1 all tests-build
	@B=build/asan TAILOR_SANITIZED=1 bash tests/run.sh

# --- fuzzing ---------------------------------------------------------------
# libFuzzer needs clang: every SDK and server source is compiled again with
# it into $(B)/fuzz/clang-obj (coverage, ASan, UBSan; the regular objects stay gcc's),
# each tests/fuzz/fuzz_NAME.c links against those, and tests/fuzz/run.sh runs
# the targets one after another for FUZZ_TIME seconds each over their seed
# corpora, failing on any crash, leak or sanitizer report.
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 60
FUZZ_SAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -std=c11 -pthread $(WARN) -g -O1 $(FUZZ_SAN)
FUZZ_SRC   := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN   := $(FUZZ_SRC:tests/fuzz/%.c=$(B)/fuzz/%)
FUZZ_OBJ   := $(SDK_SRC:%.c=$(B)/fuzz/clang-obj/%.o) $(SERVER_SRC:%.c=$(B)/fuzz/clang-obj/%.o) \
              $(B)/fuzz/clang-obj/gen/migrations.o

# The sources' warnings are gcc's to enforce (make CI=1); clang's extra
# ones (cast-align on x86, non-literal formats) do not stop fuzzing.
FUZZ_LIB_CFLAGS = $(filter-out -Werror,$(FUZZ_CFLAGS)) -Wno-cast-align -Wno-format-nonliteral

$(B)/fuzz/clang-obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_LIB_CFLAGS) -fsanitize=fuzzer-no-link $(SDK_CFLAGS) \
	    $(SERVER_CFLAGS) -MMD -MP -c $< -o $@

$(B)/fuzz/clang-obj/gen/migrations.o: $(B)/gen/migrations.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_LIB_CFLAGS) -c $< -o $@

$(B)/fuzz/libtailor-fuzz.a: $(FUZZ_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(B)/fuzz/libtailor-fuzz.a
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(SDK_CFLAGS) $(SERVER_CFLAGS) \
	    -MMD -MP -o $@ $< $(B)/fuzz/libtailor-fuzz.a $(SERVER_LIBS) $(SDK_LIBS) -lm

fuzz-build: $(FUZZ_BIN)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-build
	@B=$(B) FUZZ_TIME=$(FUZZ_TIME) bash tests/fuzz/run.sh

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_TIME=10

bench-build: $(BENCH_BIN)

bench: deps all bench-build
	@B=$(B) bash bench/run.sh

# Load and soak test, not in CI: SOAK_SECONDS (default 600) of objects,
# ranges and telemetry against one tailord; one PASS/FAIL line.
soak: deps all tests-build bench-build
	@B=$(B) bash bench/soak.sh

run: all
	@mkdir -p tailor-data
	$(B)/tailord --data ./tailor-data --listen 127.0.0.1:8080 --web-root dashboards/web

# A live fleet for the dashboard (README, "Try it"): tailord, real model
# files, the fleet simulator and a few real downloads; Ctrl-C stops it.
demo: deps
	@$(MAKE) --no-print-directory all tests-build
	@B=$(B) bash build-aux/demo.sh

# --- install ---------------------------------------------------------------
install: all $(B)/tailor.pc
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCDIR) \
	    $(DESTDIR)$(DATADIR)/schema $(DESTDIR)$(DATADIR)/dashboards
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(B)/libtailor.a $(DESTDIR)$(LIBDIR)/
	install -m 0755 $(B)/libtailor.so $(DESTDIR)$(LIBDIR)/libtailor.so.$(VERSION)
	ln -sf libtailor.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libtailor.so.$(SOVERSION)
	ln -sf libtailor.so.$(SOVERSION) $(DESTDIR)$(LIBDIR)/libtailor.so
	install -m 0644 client-sdk/include/tailor.h $(DESTDIR)$(INCDIR)/
	install -m 0644 $(B)/tailor.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	cp -R schema/. $(DESTDIR)$(DATADIR)/schema/
	cp -R dashboards/. $(DESTDIR)$(DATADIR)/dashboards/

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,tailord tailorctl tailor-fetch)
	rm -f $(DESTDIR)$(LIBDIR)/libtailor.a $(DESTDIR)$(LIBDIR)/libtailor.so*
	rm -f $(DESTDIR)$(INCDIR)/tailor.h $(DESTDIR)$(LIBDIR)/pkgconfig/tailor.pc
	rm -rf $(DESTDIR)$(DATADIR)

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
