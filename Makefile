# Kiosk developer commands. Everything Python lives in the project-local .venv made by
# scripts/venv.sh; nothing is installed system-wide.

.PHONY: dev test unit fuzz soak package invoke rie-figures check-deps browser-deps sam-venv fmt lint lint-rust module-deps bench one-build ci clean-venv

# The whole shop on this machine: emulator, table, bucket, SES identity, local keys,
# sample products, and the devstack server on 127.0.0.1:$(PORT) (default 8080).
# Ctrl-C stops everything it started.
dev:
	scripts/with-emulator.sh cargo run --quiet -p devstack

# Every test, against the local AWS emulator (locked moto; docs/architecture.md, "The
# local emulator"), which is started on a free loopback port for the run and stopped
# afterwards, pass or fail. The browser
# test needs Debian's chromium and chromium-driver, installed here when missing; the
# real-bootstrap test (every event in events/ through the function binaries under the
# Lambda Runtime Interface Emulator) takes the RIE from .venv-sam.
test: check-deps browser-deps sam-venv
	scripts/with-emulator.sh cargo test --workspace --all-targets

# Tests that need no emulator (domain, signing vectors, property tests).
unit:
	cargo test -p kiosk

# The request-parser properties (tests/tests/e2e/fuzz.rs: forms, queries, JSON checkout,
# notify bodies, return queries, tokens, emails, money, through the real handlers) for
# CASES cases each instead of make test's 256; no emulator needed. About 1.5 ms a case.
CASES ?= 100000
fuzz:
	PROPTEST_CASES=$(CASES) cargo test -p kiosk-e2e --test e2e fuzz::

# The soak (README, "The soak"): N buyers (Alipay and card) through the real handlers
# with 5 % of each fault kind on their AWS calls and the stand-in providers, then the
# audit. `make test` runs 200; a failing run prints its seed. SEED=… N=… pick another.
SEED ?= 20261207
N ?= 2000
soak:
	KIOSK_SOAK_SEED=$(SEED) KIOSK_SOAK_BUYERS=$(N) scripts/with-emulator.sh \
		cargo test -p kiosk-e2e --test e2e soak:: -- --nocapture

# Signing uses aws-lc-rs; the `rsa` crate (RUSTSEC-2023-0071) must not creep in (README,
# "Crypto").
check-deps:
	@if grep -q '^name = "rsa"$$' Cargo.lock; then \
	  echo "Cargo.lock contains the rsa crate; use aws-lc-rs (README, Crypto)"; exit 1; fi

browser-deps:
	scripts/browser-deps.sh

# aws-sam-cli (sam validate, the Lambda Runtime Interface Emulator) and cargo-lambda.
sam-venv:
	scripts/venv.sh sam

fmt:
	cargo fmt --all

# The SAM template, checked by `sam validate --lint` (cfn-lint) from the project-local
# .venv-sam; needs no AWS account.
lint:
	# Every library module is named in README.md's Layout (issue 34: the claim that drifted most).
	python3 scripts/check-layout.py
	scripts/venv.sh sam
	SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --template template.yaml --region us-east-1
	# The same template as a shop on its own domain deploys it (the domain's resources
	# exist only then).
	python3 scripts/template-with-domain.py target/lint/template-with-domain.yaml
	SAM_CLI_TELEMETRY=0 .venv-sam/bin/sam validate --lint --template target/lint/template-with-domain.yaml --region us-east-1

# Speed budgets (docs/architecture.md, "Speed budgets"): signing a pay URL, verifying a
# notification, stamping a 300-page 20 MB PDF (time, and peak memory in a child process).
bench:
	cargo bench -p kiosk --bench alipay --bench stamp

lint-rust: module-deps
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings

# The kiosk crate's modules must not depend on each other in a circle
# (scripts/module-deps.py prints who uses whom and fails on a cycle).
module-deps:
	python3 scripts/module-deps.py

# After the tests' build, the tools must build without compiling any dependency again
# (docs/architecture.md, "One build").
one-build:
	scripts/check-one-build.sh

ci: lint-rust lint test one-build

# The deploy artifacts: `sam build` (release, aarch64) from the project-local .venv-sam with
# cargo-lambda; checks each function's bootstrap is an aarch64 ELF and prints its zipped
# size (README, "Deploying").
package:
	scripts/package.sh

# One event through a function's real bootstrap under AWS's Lambda Runtime Interface
# Emulator, no Docker: make invoke FN=DownloadFunction EVENT=events/download-landing.json
# (README, "Invoke a function locally"). PROFILE=dev uses the debug build.
invoke:
	@scripts/invoke.sh "$(FN)" "$(EVENT)" "$(PROFILE)"

# A function's init, first and warm invocation under the RIE beside a hello-world
# lambda_runtime bootstrap's (README, "Performance").
rie-figures:
	@scripts/rie-figures.sh "$(or $(FN),CheckoutFunction)" "$(or $(EVENT),events/checkout-form.json)" "$(or $(RUNS),9)"

clean-venv:
	rm -rf .venv .venv-sam
