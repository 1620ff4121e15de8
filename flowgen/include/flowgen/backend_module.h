#pragma once
// Backends whose library is heavy to load live in modules (shared objects) that flowgen opens
// only when such a backend is asked for: tvl1-gpu needs LibTorch (~290 shared libraries, ~0.65 s
// at every start), which a DIS run should not pay for. A module exports one C function,
// kBackendFactorySymbol, of type BackendFactory.
//
// Modules are looked for in $MME_FLOWGEN_MODULES (a directory), beside the running program, in
// ../lib/mme from it (an installed tree), and in the build tree that built flowgen.
#include <flowgen/flow_backend.h>

#include <string>

namespace flowgen {

// Returns a new backend (the caller owns it) or throws std::runtime_error naming what is wrong
// (the device, say).
using BackendFactory = FlowBackend* (*)(const std::string& backend, const BackendOptions& options);
inline constexpr const char* kBackendFactorySymbol = "mme_flowgen_backend_factory";

// The factory of module `name` (libNAME.so), loaded once; throws std::runtime_error with every
// place it looked and the loader's message.
BackendFactory backend_module(const std::string& name);

}  // namespace flowgen
