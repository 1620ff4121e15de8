#pragma once

namespace mme {

// Semantic version of the toolkit (from CMake's project()).
const char* version();
// `git rev-parse HEAD` at build time, with "-dirty" when tracked files were modified.
const char* git_commit();

}  // namespace mme
