# The two commands of the README.  Both install what they need first:
#   make demo   install, fetch the real Linux 6.1 tree, rewrite a copy of it, check it
#   make test   install, fetch the real tree and module packages, run every test
PYTHON ?= python3
CACHE ?= $(or $(MIGRATOR_CACHE),$(HOME)/.cache/migrator)
TREE = $(CACHE)/linux-source-6.1
DEMO = $(CACHE)/demo/linux

# Debian packages: the cross compilers the build checks use, what a kernel
# build needs besides a C compiler, perl for checkpatch, and strace to inject
# signals into the write step in tests.
APT_PACKAGES = gcc-aarch64-linux-gnu gcc-arm-linux-gnueabi gcc-s390x-linux-gnu \
	gcc-powerpc-linux-gnu gcc-hppa-linux-gnu gcc-mips-linux-gnu gcc-arc-linux-gnu \
	flex bison bc libssl-dev libelf-dev dpkg-dev xz-utils perl git strace

.PHONY: install apt pip demo test tree modules

install: apt pip

apt:
	@missing=$$(for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "install: apt-get install $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

pip:
	$(PYTHON) -m pip install -q -e '.[test]'

tree: install
	@$(PYTHON) corpus/fetch.py >/dev/null

# Debian's linux-image packages of five architectures; checking them fetches them.
modules: install
	migrator check --modules

# The main job on the default input: a hard-linked copy of the fetched tree
# (migrator replaces files, so the cached original is never written).
demo: tree
	migrator scan $(TREE) | tail -3
	rm -rf $(DEMO) && mkdir -p $(dir $(DEMO)) && cp -al $(TREE) $(DEMO)
	migrator rewrite $(DEMO)
	migrator check $(DEMO) --original $(TREE)
	@echo "rewritten tree: $(DEMO)"

# Real inputs are required here: a missing tree or package fails the run instead of skipping.
test: tree modules
	MIGRATOR_REQUIRE_REAL_INPUTS=1 $(PYTHON) -m pytest -q
