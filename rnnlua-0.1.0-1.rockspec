-- luarocks: builds rnnlua with its own Makefile and installs the module
-- (rnn/core.so, rnn/mpi.so where OpenMPI is, every rnn/*.lua) and the
-- rnnlua interpreter into a tree, offline:
--   luarocks --lua-version 5.4 make                   (the user tree, or --tree DIR)
--   eval "$(luarocks --lua-version 5.4 path)"; lua5.4 -e "require 'rnn'"
-- The Makefile, not luarocks' builtin backend, because the flags matter:
-- -ffp-contract=off (the same bits on every machine), -O3 on the kernels,
-- the include paths pkg-config gives for OpenBLAS, and the export map of
-- core.so. For the same reason luarocks' CFLAGS are not passed (they would
-- replace ours; luarocks warns that CFLAGS was not passed).
rockspec_format = "3.0"
package = "rnnlua"
version = "0.1.0-1"

source = {
   -- luarocks make builds the checkout it runs in; this is only its name
   url = "git+file:///rnnlua",
}

description = {
   summary = "Recurrent neural networks for Lua 5.4 over a C core on BLAS",
   detailed = [[
Tensors, autograd through time, fused RNN/LSTM/GRU kernels, optimizers,
clipping, safetensors files and an experiment harness, as the module `rnn`
(require 'rnn') and the interpreter `rnnlua`. Built against Debian's
libopenblas-dev, liblapacke-dev, libjansson-dev, liblua5.4-dev,
libreadline-dev and (for rnn.distributed) libopenmpi-dev; the experiment
harness uses Debian's lua-cjson, lua-argparse, lua-luv and lua-filesystem
at run time (tools/deps.sh --list names them all).
]],
   license = "MIT",
}

-- The Lua libraries the harness uses are not listed: they come from Debian
-- (lua-cjson, ...), which luarocks does not see, and listing them would make
-- an offline build look for them on a rocks server.
dependencies = {
   "lua >= 5.4, < 5.5",
}

-- Checked before the build, so a missing library is named up front.
external_dependencies = {
   OPENBLAS = { library = "openblas" },
   LAPACKE = { header = "lapacke.h" },
   JANSSON = { header = "jansson.h" },
   READLINE = { header = "readline/readline.h" },
}

build = {
   type = "make",
   build_target = "build-only",
   install_target = "install-only",
   install_variables = {
      PREFIX = "$(PREFIX)",
      BINDIR = "$(BINDIR)",
      LUA_LIBDIR = "$(LIBDIR)",
      LUA_SHAREDIR = "$(LUADIR)",
      -- kept in the rock's own folder (luarocks deploys no man pages)
      MANDIR = "$(PREFIX)/doc/man",
      DOCDIR = "$(PREFIX)/doc",
   },
}
