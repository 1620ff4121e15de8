# The tool version and the git commit go into every shard's provenance attributes. The commit is
# read at build time (not configure time) so that it never goes stale; the generated file is only
# rewritten when the commit changes, so an unchanged tree does not relink.
set(MME_GIT_VERSION_CPP ${CMAKE_BINARY_DIR}/generated/git_version.cpp)
add_custom_target(mme_git_version
  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${CMAKE_SOURCE_DIR} -DOUTPUT=${MME_GIT_VERSION_CPP}
          -P ${CMAKE_CURRENT_LIST_DIR}/WriteGitVersion.cmake
  BYPRODUCTS ${MME_GIT_VERSION_CPP}
  COMMENT "Reading the git commit")
