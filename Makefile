# git-orchestrate: the only build system. See README.md.
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
HOOKSDIR ?= $(PREFIX)/share/git-orchestrate/hooks
AGENTSDIR ?= $(PREFIX)/share/git-orchestrate/agents
DESTDIR ?=

CC ?= cc
CFLAGS ?= -O2 -g
PKGS = libgit2 libssh2 libcjson inih
# Lazy (=) so that `make test` can install the packages before pkg-config runs.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS))
PKG_LIBS = $(shell pkg-config --libs $(PKGS))
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Ilib -I$(BUILD)/gen $(PKG_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS)
ALL_LDFLAGS = $(LDFLAGS) $(EXTRA_LDFLAGS)
LIBS = $(PKG_LIBS) -lpthread -lm

# BUILD is the output directory: build/ normally, build-asan/ for the
# sanitizer pass (see the test target).
BUILD ?= build

LIB_SRC = $(sort $(wildcard lib/*.c))
CMD_SRC = $(sort $(wildcard cmd/*.c))
UNIT_SRC = $(sort $(wildcard tests/unit/*.c))
LIB_OBJ = $(LIB_SRC:%.c=$(BUILD)/%.o)
CMD_OBJ = $(CMD_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit-%)
# Fuzz targets (tests/fuzz/<name>.c): `make fuzz` runs them under libFuzzer;
# every build replays their corpus and regressions (unit-fuzz-<name>).
FUZZ_TARGETS = config hook plan prompts state
FUZZ_REPLAY_BIN = $(FUZZ_TARGETS:%=$(BUILD)/tests/unit-fuzz-%)
FUZZ_BIN = $(FUZZ_TARGETS:%=$(BUILD)/fuzz-%)
HEADERS = $(wildcard lib/*.h cmd/*.h tests/unit/*.h)

.PHONY: all deps deps-fuzz install uninstall test test-run check demo clean \
	format bench fuzz fuzz-bins

all: $(BUILD)/git-orchestrate $(UNIT_BIN) $(FUZZ_REPLAY_BIN)

deps:
	@sh contrib/install-deps.sh

deps-fuzz:
	@sh contrib/install-deps.sh fuzz

# Each command's synopsis (`CMD -h`) comes from the man page's SYNOPSIS.
SYNOPSIS_H = $(BUILD)/gen/synopsis.h
$(SYNOPSIS_H): share/git-orchestrate.1 share/synopsis.sh
	@mkdir -p $(dir $@)
	sh share/synopsis.sh share/git-orchestrate.1 >$@.tmp && mv $@.tmp $@
$(CMD_OBJ): $(SYNOPSIS_H)

$(BUILD)/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/liborchestrate.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/git-orchestrate: $(CMD_OBJ) $(BUILD)/liborchestrate.a
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $(CMD_OBJ) $(BUILD)/liborchestrate.a $(LIBS)

$(BUILD)/tests/unit-%: tests/unit/%.c $(BUILD)/liborchestrate.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(BUILD)/liborchestrate.a $(LIBS)

# A fuzz target with the replay driver instead of libFuzzer (no clang needed).
$(BUILD)/tests/unit-fuzz-%: tests/fuzz/%.c tests/fuzz/replay.c tests/fuzz/fuzz.h $(BUILD)/liborchestrate.a $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DFUZZ_TARGET='"$*"' $(ALL_LDFLAGS) -o $@ $< tests/fuzz/replay.c $(BUILD)/liborchestrate.a $(LIBS)

# A fuzz target linked with libFuzzer (clang, BUILD=build-fuzz: see fuzz).
$(BUILD)/fuzz-%: tests/fuzz/%.c tests/fuzz/fuzz.h $(BUILD)/liborchestrate.a $(HEADERS)
	$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer $(ALL_LDFLAGS) -o $@ $< $(BUILD)/liborchestrate.a $(LIBS)

fuzz-bins: $(FUZZ_BIN)

SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# `make test`: install what is missing, build twice (normal and sanitizer),
# run the unit and end-to-end tests under both, one summary line at the end.
test: deps
	@$(MAKE) --no-print-directory all BUILD=build
	@$(MAKE) --no-print-directory all BUILD=build-asan CFLAGS="-O1 -g" \
		EXTRA_CFLAGS="$(SAN_FLAGS)" EXTRA_LDFLAGS="$(SAN_FLAGS)"
	@bash tests/run.sh build build-asan

check: test

# `make fuzz`: install clang and libFuzzer if missing, build every target
# with clang -fsanitize=fuzzer,address,undefined and run each for
# FUZZ_SECONDS from its seed corpus in tests/fuzz/<target>/; new corpus
# entries go to build-fuzz/corpus/, what a fuzzer finds to
# tests/fuzz/<target>/regressions/ (which `make test` replays).
FUZZ_SECONDS ?= 60
FUZZ_SAN_FLAGS = -fsanitize=fuzzer-no-link,address,undefined \
	-fno-omit-frame-pointer -fno-sanitize-recover=all
fuzz: deps-fuzz
	@$(MAKE) --no-print-directory fuzz-bins BUILD=build-fuzz CC=clang \
		CFLAGS="-O1 -g" EXTRA_CFLAGS="$(FUZZ_SAN_FLAGS)" \
		EXTRA_LDFLAGS="$(FUZZ_SAN_FLAGS)"
	@sh tests/fuzz/run-fuzzers.sh build-fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

demo: deps
	@$(MAKE) --no-print-directory all
	@sh contrib/demo.sh $(CURDIR)/build/git-orchestrate

bench: all
	@for b in bench/*; do [ -x "$$b" ] && "$$b"; done

install: $(BUILD)/git-orchestrate
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(HOOKSDIR) $(DESTDIR)$(AGENTSDIR)
	install -m 755 $(BUILD)/git-orchestrate $(DESTDIR)$(BINDIR)/git-orchestrate
	install -m 755 hooks/post-receive hooks/pre-receive $(DESTDIR)$(HOOKSDIR)/
	install -m 755 contrib/agents/claude contrib/agents/codex contrib/agents/aider $(DESTDIR)$(AGENTSDIR)/
	@if [ -f share/git-orchestrate.1 ]; then install -m 644 share/git-orchestrate.1 $(DESTDIR)$(MANDIR)/man1/; fi
	@if [ -f share/git-orchestrate.bash ]; then install -m 644 share/git-orchestrate.bash $(DESTDIR)$(COMPLETIONDIR)/git-orchestrate; fi

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/git-orchestrate $(DESTDIR)$(MANDIR)/man1/git-orchestrate.1 \
		$(DESTDIR)$(COMPLETIONDIR)/git-orchestrate \
		$(DESTDIR)$(HOOKSDIR)/post-receive $(DESTDIR)$(HOOKSDIR)/pre-receive \
		$(DESTDIR)$(AGENTSDIR)/claude $(DESTDIR)$(AGENTSDIR)/codex $(DESTDIR)$(AGENTSDIR)/aider
	-rmdir $(DESTDIR)$(HOOKSDIR) $(DESTDIR)$(AGENTSDIR) $(DESTDIR)$(PREFIX)/share/git-orchestrate 2>/dev/null

format:
	clang-format -i lib/*.c lib/*.h cmd/*.c cmd/*.h tests/unit/*.c tests/unit/*.h

clean:
	rm -rf build build-asan build-fuzz
