# The two commands of the README.  Both install what they need first:
#   make demo   install, fetch the real Linux 6.1 tree, rewrite a copy of it, check it
#   make test   install, fetch the real tree and module packages, run every test
PYTHON ?= python3
CACHE ?= $(or $(MIGRATOR_CACHE),$(HOME)/.cache/migrator)
TREE = $(CACHE)/linux-source-6.1
REWRITTEN = $(CACHE)/linux-rewritten-6.1
DEMO = $(CACHE)/demo/linux

# Debian packages: the cross compilers the build checks use, what a kernel
# build needs besides a C compiler, and perl for checkpatch; qemu, a static
# busybox, cpio and depmod (kmod) for the run-time proof (migrator/boot/);
# gcc-12, the compiler Debian's kernel headers name, for the out-of-tree corpus;
# strace to inject signals into the write step in tests.
APT_PACKAGES = gcc-aarch64-linux-gnu gcc-arm-linux-gnueabi gcc-s390x-linux-gnu \
	gcc-powerpc-linux-gnu gcc-hppa-linux-gnu gcc-mips-linux-gnu gcc-arc-linux-gnu \
	flex bison bc libssl-dev libelf-dev dpkg-dev xz-utils perl git \
	qemu-system-x86 qemu-system-arm busybox-static cpio kmod gcc-12 make strace

.PHONY: install apt pip demo test tree modules rewritten proof proof-out-of-tree out-of-tree-inputs

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
	@$(PYTHON) corpus/fetch.py linux-source-6_12 >/dev/null

# The rewritten tree `migrator boot` builds from; unchanged files keep their
# times, so its kernel build under $(CACHE)/boot-build stays warm.
rewritten: tree
	@$(PYTHON) corpus/rewritten.py >/dev/null

# The out-of-tree mode's inputs: systemtap-common 4.8, the headers of
# Debian's 6.1 and 6.12 cloud kernels (corpus/out-of-tree/ builds against both)
# and the DKMS packages the class-create pack ports.
DKMS_INPUTS = dahdi-dkms xtrx-dkms vpoll-dkms falcosecurity-scap-dkms
OUT_OF_TREE_INPUTS = systemtap-common linux-headers-6.1-cloud-amd64 linux-headers-6.12-cloud-amd64 \
	$(DKMS_INPUTS)
out-of-tree-inputs: install
	@$(PYTHON) corpus/fetch.py $(OUT_OF_TREE_INPUTS) >/dev/null

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
test: tree modules rewritten out-of-tree-inputs
	MIGRATOR_REQUIRE_REAL_INPUTS=1 $(PYTHON) -m pytest -q

# The run-time proof in full (long: builds and boots three kernels, boots
# Debian's two): the pristine and the rewritten 6.1 side by side on x86_64,
# the same on arm64 with module PLTs, the out-of-tree corpus in the
# rewritten kernel, and the real loaders of 6.1 and 6.12 against the model
# on 300 modules each.
proof: rewritten proof-out-of-tree
	migrator boot $(TREE) $(REWRITTEN) --log $(CACHE)/boot-x86_64.log
	migrator boot $(TREE) $(REWRITTEN) --arch arm64 --log $(CACHE)/boot-arm64.log
	migrator check --against-loader --count 300

# The out-of-tree corpus, each scenario rewritten by migrator, built against
# the rewritten 6.1 tree and loaded into its kernel (the new API under the
# old version number, as in vendor kernels with the change backported):
# every module's self-check must pass.  Shares the x86_64 build of `proof`.
proof-out-of-tree: rewritten
	migrator boot $(REWRITTEN) $(addprefix --modules ,$(shell $(PYTHON) corpus/rewritten.py --out-of-tree)) \
		--log $(CACHE)/boot-out-of-tree.log
