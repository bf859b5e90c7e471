# landemu: the two README commands (`make demo`, `make test`) set everything up by themselves
# on a fresh Debian 12 machine and take seconds when it is already set up.

SHELL   := /bin/bash
PYTHON  ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMPS  := .stamps
KERNELS := $(wildcard coupler/kernels/*.c coupler/kernels/*.h coupler/kernels/build.py)
# The C library (cffi embedding): rebuilt when its build script, C part or header change
# (bindings/api.py is imported at run time and needs no rebuild).
LIBLANDEMU := build/lib/liblandemu.so
BINDINGS   := bindings/build.py bindings/capi.c bindings/landemu.h
# The Fortran module, test host and host model (CMake): rebuilt when anything in
# fortran_shim/ changes, or the C library does.
FORTRAN    := $(shell find fortran_shim -type f -not -name '*~' 2>/dev/null)

.PHONY: all setup system venv kernels bindings fortran demo test lint bench models clean

all: setup

## set-up ---------------------------------------------------------------------
setup: system venv kernels bindings fortran

system:
	@run/setup/system_packages.sh

venv: $(STAMPS)/venv
$(STAMPS)/venv: pyproject.toml setup.py run/setup/python_env.sh
	@PYTHON=$(PYTHON) run/setup/python_env.sh $(VENV)
	@mkdir -p $(STAMPS) && touch $@

kernels: $(STAMPS)/kernels
$(STAMPS)/kernels: $(STAMPS)/venv $(KERNELS)
	@$(VPY) -m pip install -q --disable-pip-version-check --no-build-isolation --no-deps -e .
	@touch $@

bindings: $(LIBLANDEMU) build/include/landemu.h
$(LIBLANDEMU): $(STAMPS)/venv $(BINDINGS)
	@$(VPY) bindings/build.py
build/include/landemu.h: bindings/landemu.h
	@mkdir -p $(@D) && cp -p $< $@

fortran: $(STAMPS)/fortran
$(STAMPS)/fortran: $(LIBLANDEMU) build/include/landemu.h $(FORTRAN) | system
	@cmake -S fortran_shim -B build/fortran --log-level=WARNING \
	    -DCMAKE_INSTALL_PREFIX=$(CURDIR)/build/install -DCMAKE_BUILD_TYPE=RelWithDebInfo
	@cmake --build build/fortran -j 2
	@cmake --install build/fortran > /dev/null
	@echo "landemu: Fortran module and programs installed in build/install"
	@mkdir -p $(STAMPS) && touch $@

## the README commands --------------------------------------------------------
demo: setup
	@run/demo/run.sh
	@run/demo/landuse.sh
	@run/demo/lai.sh

test: setup
	$(VPY) -m pytest -q

## developer helpers ----------------------------------------------------------
lint: venv
	$(VENV)/bin/ruff check coupler emulators bindings tests run
	$(VENV)/bin/ruff format --check coupler emulators bindings tests run

# `make models` retrains every shipped emulator end to end from the real data (resumable;
# each family adds its own `models-<family>` target as a prerequisite below).
models: setup
models: models-mdpl

# MdPL (twin sites, ensembles of the Fortran physics, surrogates, g_z, DE baseline, ONNX,
# evaluation). Each step resumes from run/data/mdpl/ (caches and checkpoints). The longer
# surrogates continue copies of the first ones in $(LONG) to ~6.5x their steps, then the MAP
# recipe runs through them, seeds 0-7 (emulators/mdpl/evaluation/longer_surrogates_rule.md).
MDPL := OMP_NUM_THREADS=1 $(VPY) -m emulators.mdpl
LONG := run/data/mdpl_long
models-mdpl: setup
	$(MDPL).build_data
	$(MDPL).train surrogate --arch multitask --steps 600 --minutes 600
	$(MDPL).train surrogate --arch singletask --steps 480 --minutes 600
	$(MDPL).train generator --arch multitask --steps 300 --minutes 600
	$(MDPL).train generator --arch singletask --steps 300 --minutes 600
	$(MDPL).train generator --arch multitask --gz gru1x64 --distill 10 --warmup 300 --steps 1000 --minutes 600
	$(MDPL).train generator --arch singletask --gz gru1x64 --distill 10 --warmup 300 --steps 1000 --minutes 600
	$(MDPL).train generator --arch multitask --gz gru1x64 --init-from gru1x64 --tag cont --lr 1e-3 --steps 500 --minutes 600
	for s in 0.25:map 0.15:map15 0.4:map40; do $(MDPL).train generator --arch multitask --gz gru1x64 \
	  --init-from gru1x64 --prior-sigma $${s%%:*} --tag $${s##*:} --lr 1e-3 --steps 500 --minutes 600 || exit 1; done
	for a in singletask:map:0 multitask:map_s1:1 singletask:map_s1:1 multitask:map_s2:2 \
	  singletask:map_s2:2 multitask:map_s3:3 singletask:map_s3:3; do set -- $$(echo $$a | tr : ' '); \
	  $(MDPL).train generator --arch $$1 --gz gru1x64 --init-from gru1x64 --prior-sigma 0.25 \
	  --tag $$2 --seed $$3 --lr 1e-3 --steps 500 --minutes 600 || exit 1; done
	for a in multitask:map_cl:0 singletask:map_cl:0 multitask:map_cl_s1:1 singletask:map_cl_s1:1; do \
	  set -- $$(echo $$a | tr : ' '); $(MDPL).train generator --arch $$1 --gz gru1x64 --closure \
	  --init-from gru1x64 --prior-sigma 0.25 --tag $$2 --seed $$3 --lr 1e-3 --steps 500 \
	  --minutes 600 || exit 1; done
	$(MDPL).baseline
	mkdir -p $(LONG) && for f in run/data/mdpl/*.npz; do ln -sf ../mdpl/$${f##*/} $(LONG)/; done
	[ -f $(LONG)/generator_multitask_gru1x64_map600.pt ] || \
	  cp run/data/mdpl/generator_multitask_gru1x64_map.pt $(LONG)/generator_multitask_gru1x64_map600.pt
	for a in multitask:4000 singletask:3200; do set -- $$(echo $$a | tr : ' '); \
	  for k in surrogate_$$1 generator_$$1_gru1x64; do [ -f $(LONG)/$$k.pt ] || \
	    cp run/data/mdpl/$$k.pt $(LONG)/ || exit 1; done; \
	  $(MDPL).train surrogate --arch $$1 --steps $$2 --minutes 600 --data-dir $(LONG) || exit 1; \
	  for s in 0 1 2 3 4 5 6 7; do tag=map; [ $$s -gt 0 ] && tag=map_s$$s; \
	    $(MDPL).train generator --arch $$1 --gz gru1x64 --init-from gru1x64 --prior-sigma 0.25 \
	    --tag $$tag --seed $$s --lr 1e-3 --steps 500 --minutes 600 --data-dir $(LONG) || exit 1; \
	  done; done
	for a in multitask:singletask singletask:multitask; do set -- $$(echo $$a | tr : ' '); \
	  [ -f $(LONG)/generator_$$1_gru1x64x.pt ] || \
	    cp $(LONG)/generator_$$2_gru1x64.pt $(LONG)/generator_$$1_gru1x64x.pt || exit 1; \
	  for s in 0 1 2 3; do tag=xmap; [ $$s -gt 0 ] && tag=xmap_s$$s; \
	    $(MDPL).train generator --arch $$1 --gz gru1x64 --init-from gru1x64x --prior-sigma 0.25 \
	    --tag $$tag --seed $$s --lr 1e-3 --steps 500 --minutes 600 --data-dir $(LONG) || exit 1; \
	  done; done
	$(MDPL).export gru1x64_xmap --data-dir $(LONG)
	OMP_NUM_THREADS=1 $(VENV)/bin/landemu evaluate mdpl
	for a in multitask_gru1x64_map multitask_gru1x64_map_cl; do $(MDPL).evaluate refine $$a || exit 1; done
	OMP_NUM_THREADS=1 $(VENV)/bin/landemu evaluate mdpl --longer
	OMP_NUM_THREADS=1 $(VENV)/bin/landemu evaluate mdpl --swapped-start
	$(MDPL).evaluate refine multitask_gru1x64_xmap --runs 4 --min-delta 0 \
	  -o emulators/mdpl/evaluation/swapped_start --data-dir $(LONG)

# Soil moisture (TWIN stations from the Fortran physics, CV-tuned forest vs gradient
# boosting, experiments, ONNX trade-off, tables in emulators/soilmoisture/). The twin cube
# is cached; train resumes from the JSON files in run/data/soilmoisture/.
models: models-soilmoisture
SM := OMP_NUM_THREADS=1 $(VENV)/bin/landemu soilmoisture
models-soilmoisture: setup
	[ -f run/data/soilmoisture/twin.npz ] || $(SM) twin -o run/data/soilmoisture/twin.npz
	$(SM) train
	$(SM) export
	OMP_NUM_THREADS=1 $(VENV)/bin/landemu evaluate soilmoisture

# Land use / land cover U-Net (real MODIS/ETOPO5/ERA5/Koppen cube, loss chosen by validation,
# resumable training in run/data/lulc/, ONNX, decodings compared on validation blocks and the
# held-out table in emulators/lulc/evaluation/).
models: models-lulc
LULC := OMP_NUM_THREADS=1 $(VPY) -m emulators.lulc
models-lulc: setup
	[ -f run/data/lulc/cube.zarr/manifest.json ] || $(LULC).dataset build
	[ -f run/data/lulc/select/selection.json ] || $(LULC).train select-loss --minutes 4
	$(LULC).train run --loss auto --minutes 58
	$(LULC).export
	$(LULC).evaluate validation
	$(LULC).evaluate table
	$(LULC).information_probe

# Monthly LAI (phase two: SEMI-EMPIRICAL target from real NDVI + GSI on ERA5; separate and
# joint U-Nets on phase one's cube and split, resumable in run/data/lai/; the better design
# shipped as emulators/lai/lai.onnx; comparison tables in emulators/lai/evaluation/).
models: models-lai
LAI := OMP_NUM_THREADS=1 $(VPY) -m emulators.lai
LAI_V3 := checkpoint
LAI_RUN := run/data/lai
LAI_MODELS := separate_v2=$(LAI_RUN)/separate_v2.onnx,separate_v3=$(LAI_RUN)/separate_v3.onnx,separate_v3e=$(LAI_RUN)/separate_v3e.onnx
models-lai: setup
	[ -f run/data/lulc/cube.zarr/manifest.json ] || $(LULC).dataset build
	$(LAI).t42
	$(LAI).train --design separate --minutes 16 --residual 0 --dropout 0 --channels 38
	$(LAI).train --design joint --minutes 25
	$(LAI).train --design separate --out run/data/lai/separate_res_seed0 --residual 1 --lr 1e-3 \
	    --init run/data/lai/separate_seed0/best.pt --minutes 25 --channels 38
	$(LAI).train --design separate --out run/data/lai/separate_res2_seed0 --residual 2 --lr 1e-3 \
	    --init run/data/lai/separate_res_seed0/checkpoint.pt --mask-min 0 --minutes 42 \
	    --decay-start 22 --channels 38
	$(LAI).train --design separate --out run/data/lai/separate_v3_seed0 --residual 2 --lr 5e-4 \
	    --init run/data/lai/separate_res2_seed0/checkpoint.pt --init-head 1 --mask-min 0 \
	    --minutes 72 --decay-start 30 --epochs 159
	$(LAI).train --design separate --out run/data/lai/separate_v3h_seed0 --residual 3 --lr 7e-4 \
	    --init run/data/lai/separate_v3_seed0/checkpoint.pt --init-head 1 --mask-min 0 \
	    --minutes 47 --decay-start 15 --epochs 71
	$(LAI).train --design separate --out run/data/lai/separate_v3x_seed0 --residual 4 \
	    --init run/data/lai/separate_v3h_seed0/checkpoint.pt --init-head 1 --mask-min 0 \
	    --pixel-pretrain 6000 --epochs 0
	$(LAI).phase_one
	$(LAI).train --design separate --out run/data/lai/separate_v3e_pixel --residual 4 \
	    --init run/data/lai/separate_v3x_seed0/checkpoint.pt --init-head 1 --mask-min 0 \
	    --predicted-share 0.5 --pixel-pretrain 6000 --epochs 0 --val-samples 48
	$(LAI).train --design separate --out run/data/lai/separate_v3e_seed0 --residual 4 \
	    --init run/data/lai/separate_v3e_pixel/checkpoint.pt --init-head 1 --mask-min 0 \
	    --predicted-share 0.5 --lr 3e-4 --minutes 55 --decay-start 25 --val-samples 32
	$(LAI).export --checkpoint run/data/lai/separate_res2_seed0/checkpoint.pt \
	    --out run/data/lai/separate_v2.onnx
	$(LAI).export --checkpoint run/data/lai/separate_v3_seed0/checkpoint.pt \
	    --out run/data/lai/separate_v3a.onnx
	$(LAI).export --checkpoint run/data/lai/separate_v3x_seed0/$(LAI_V3).pt \
	    --out run/data/lai/separate_v3.onnx
	$(LAI).export --checkpoint run/data/lai/separate_v3e_pixel/best.pt \
	    --out run/data/lai/separate_v3e_pixel.onnx
	$(LAI).export --checkpoint run/data/lai/separate_v3e_seed0/checkpoint.pt \
	    --out run/data/lai/separate_v3e.onnx
	$(LAI).export --checkpoint run/data/lai/joint_seed0/best.pt --out run/data/lai/joint.onnx
	$(LAI).evaluate table --regions 4 \
	    --models $(LAI_MODELS),separate_v3e_pixel=$(LAI_RUN)/separate_v3e_pixel.onnx,separate_v3a=$(LAI_RUN)/separate_v3a.onnx,joint=$(LAI_RUN)/joint.onnx
	$(LAI).evaluate table --regions 4 --mask-ratio 0 --models $(LAI_MODELS)
	$(LAI).evaluate table --regions 4 --mask-ratio 1 --models $(LAI_MODELS)
	$(LAI).evaluate rollout --regions 4 --models $(LAI_MODELS)
	$(LAI).uncertainty --checkpoint run/data/lai/separate_v3e_seed0/checkpoint.pt --regions 4 \
	    --members 3
	$(LAI).evaluate ship
	$(LAI).evaluate plot

bench: setup
	@for b in run/bench/*.py; do echo "== $$b"; $(VPY) $$b || exit 1; done

clean:
	rm -rf build $(STAMPS) coupler/_kernels*.so
