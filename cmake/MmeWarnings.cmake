# Warnings for the project's own targets: -Wall -Wextra and a few that catch real bugs.
add_library(mme_warnings INTERFACE)
target_compile_options(mme_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wcast-align -Woverloaded-virtual -Wformat=2
  -Wimplicit-fallthrough $<$<BOOL:${MME_WERROR}>:-Werror>)
