# The two commands of the README.  Both install what they need first:
#   make demo   install, fetch the real Linux 6.1 tree, run migrator on it
#   make test   install, fetch the real tree, run every test
PYTHON ?= python3
TREE = $(shell $(PYTHON) corpus/fetch.py)

# Debian packages: the cross compilers the build checks use, and what a
# kernel build needs besides a C compiler.
APT_PACKAGES = gcc-aarch64-linux-gnu gcc-arm-linux-gnueabi gcc-s390x-linux-gnu \
	gcc-powerpc-linux-gnu gcc-hppa-linux-gnu gcc-mips-linux-gnu gcc-arc-linux-gnu \
	flex bison bc libssl-dev libelf-dev dpkg-dev xz-utils

.PHONY: install apt pip demo test tree

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

demo: tree
	migrator scan $(TREE)

# Real inputs are required here: a missing tree fails the run instead of skipping.
test: tree
	MIGRATOR_REQUIRE_REAL_INPUTS=1 $(PYTHON) -m pytest -q
