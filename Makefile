# Postern - a Postfix-compatible smtp(8)/lmtp(8) delivery agent.
#
#   make            build build/postern-smtp and build/postern-lmtp
#   make check      install missing packages, build, run every test
#   make demo       run a private Postfix with Postern as its smtp transport
#   make install    install beside Postfix's own daemons (never over them)
#   make asan       the same program built with ASan+UBSan in build-asan/

BUILD    ?= build
CC       ?= cc
PKGS     := openssl libcares libsasl2 libpcre2-8
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wmissing-prototypes \
            -Wno-unused-parameter
CPPFLAGS += -Iinclude -D_GNU_SOURCE
ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARN) $(SAN_FLAGS) $(PKG_CFLAGS)
LDLIBS   += $(PKG_LIBS) -ldb

ifeq ($(SAN),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
             -fno-sanitize-recover=undefined
endif

# Every src/<subsystem>/*.c goes into one static library; the program's
# main() lives in src/smtp/smtp_main.c so unit tests can link the rest.
LIB_SRCS  := $(filter-out src/smtp/smtp_main.c,$(wildcard src/*/*.c))
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
MAIN_OBJ  := $(BUILD)/obj/src/smtp/smtp_main.o
LIB       := $(BUILD)/libpostern.a

UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
TOOL_SRCS := $(wildcard tests/tools/*.c)
TOOL_BINS := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

DAEMON_DIR ?= $(shell postconf -h daemon_directory 2>/dev/null || echo /usr/lib/postfix/sbin)

.PHONY: all clean check unit integration asan install demo deps lint fmt

all: $(BUILD)/postern-smtp $(BUILD)/postern-lmtp

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/postern-smtp: $(MAIN_OBJ) $(LIB)
	$(CC) $(ALL_CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/postern-lmtp: $(BUILD)/postern-smtp
	ln -f $< $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS) -lcmocka

$(BUILD)/tools/%: tests/tools/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -o $@ $< $(LIB) $(LDLIBS)

deps:
	@sh tests/deps.sh

unit: all $(UNIT_BINS) $(TOOL_BINS)
	@sh tests/run-unit.sh $(BUILD)

integration: all $(TOOL_BINS)
	@python3 tests/integration/run.py --build $(BUILD)

asan:
	$(MAKE) BUILD=build-asan SAN=1 all $(patsubst $(BUILD)/%,build-asan/%,$(UNIT_BINS) $(TOOL_BINS))

check: deps
	@sh tests/check.sh

demo: deps all
	@python3 tests/demo.py --build $(BUILD)

install: all
	@test -d "$(DAEMON_DIR)" || { echo "no $(DAEMON_DIR)"; exit 1; }
	install -m 755 $(BUILD)/postern-smtp $(DESTDIR)$(DAEMON_DIR)/postern-smtp
	ln -f $(DESTDIR)$(DAEMON_DIR)/postern-smtp $(DESTDIR)$(DAEMON_DIR)/postern-lmtp

lint:
	@sh tests/lint.sh

fmt:
	clang-format -i --style=file:conf/.clang-format src/*/*.c include/*/*.h

clean:
	rm -rf build build-asan

-include $(LIB_OBJS:.o=.d) $(MAIN_OBJ:.o=.d)
