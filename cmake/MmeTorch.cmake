# LibTorch from PyTorch's wheel (how users get a current LibTorch): the CMake package inside the
# installed `torch`, found through a Python that imports it. MME_PYTHON picks that Python; by
# default the environment scripts/install-deps.sh makes (.venv), else python3 on the PATH (the GPU
# machine's own PyTorch). Torch_DIR, when given, wins.
#
# Also finds what c10d's backends need beside the wheel, which ships neither header set:
# - gloo (Debian's libgloo-dev; only its headers: the code is inside libtorch_cpu) for
#   ProcessGroupGloo, the CPU backend: MME_HAVE_GLOO;
# - NCCL's nccl.h (the CUDA toolkit's, or the nvidia-nccl wheel's) for ProcessGroupNCCL: MME_HAVE_NCCL.
if(EXISTS ${CMAKE_SOURCE_DIR}/.venv/bin/python)
  set(mme_python_default ${CMAKE_SOURCE_DIR}/.venv/bin/python)
else()
  find_program(mme_python_default NAMES python3 python)
endif()
set(MME_PYTHON ${mme_python_default} CACHE FILEPATH "A Python whose `torch` holds the LibTorch to build against")

if(NOT Torch_DIR)
  execute_process(
    COMMAND ${MME_PYTHON} -c "import torch.utils; print(torch.utils.cmake_prefix_path, end='')"
    OUTPUT_VARIABLE mme_torch_prefix RESULT_VARIABLE mme_torch_rc ERROR_VARIABLE mme_torch_err)
  if(NOT mme_torch_rc EQUAL 0)
    message(FATAL_ERROR "${MME_PYTHON} cannot import torch (run scripts/install-deps.sh, or give "
                        "-DMME_PYTHON=<a python with torch> or -DTorch_DIR=...): ${mme_torch_err}")
  endif()
  list(APPEND CMAKE_PREFIX_PATH ${mme_torch_prefix})
endif()

# The wheel is built with CUDA: its CMake package needs the toolkit (nvcc) to configure, even
# where no GPU is present. /usr/local/cuda is where the toolkit's installer puts it.
if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
  set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
endif()
# Without a GPU, Caffe2's architecture probe would try to run a CUDA program; name the
# architectures instead (A100, H100/H200) unless the user did. The trainer has no CUDA sources of
# its own, so this only shapes the flags LibTorch's package exports.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(TORCH_CUDA_ARCH_LIST "8.0;9.0")
endif()
if(NOT DEFINED CMAKE_CUDA_STANDARD)
  set(CMAKE_CUDA_STANDARD 17)  # CMake 3.25 knows no C++20 dialect for nvcc 13
endif()
find_package(Torch REQUIRED)

# libtorch_cuda present: the build links it and can use ProcessGroupNCCL.
set(MME_TORCH_CUDA OFF)
foreach(lib ${TORCH_LIBRARIES})
  if(lib MATCHES "torch_cuda" OR (TARGET ${lib} AND lib MATCHES "cuda"))
    set(MME_TORCH_CUDA ON)
  endif()
endforeach()
if(TARGET torch_cuda OR TARGET torch::cudart)
  set(MME_TORCH_CUDA ON)
endif()

find_path(MME_GLOO_INCLUDE_DIR gloo/config.h)
set(MME_HAVE_GLOO OFF)
if(MME_GLOO_INCLUDE_DIR)
  set(MME_HAVE_GLOO ON)
endif()

set(MME_HAVE_NCCL OFF)
if(MME_TORCH_CUDA)
  execute_process(
    COMMAND ${MME_PYTHON} -c "import nvidia.nccl, os; print(os.path.join(list(nvidia.nccl.__path__)[0], 'include'), end='')"
    OUTPUT_VARIABLE mme_nccl_wheel_include ERROR_QUIET)
  find_path(MME_NCCL_INCLUDE_DIR nccl.h HINTS ${mme_nccl_wheel_include} ${CUDAToolkit_INCLUDE_DIRS} /usr/local/cuda/include)
  if(MME_NCCL_INCLUDE_DIR)
    set(MME_HAVE_NCCL ON)
  endif()
endif()
message(STATUS "LibTorch ${Torch_VERSION} (${MME_PYTHON}): CUDA ${MME_TORCH_CUDA}, c10d backends: "
               "gloo ${MME_HAVE_GLOO}, nccl ${MME_HAVE_NCCL}")

# mme_torch: what a target that uses LibTorch links. The wheel's include directory carries its own
# fmt (v12) headers, which shadow Debian's (v9) for every file that sees torch's headers, and which
# torch's c10d headers need: those files use that fmt header-only, so nothing links against the
# other version's library (the two live in different inline namespaces, fmt::v9 and fmt::v12).
add_library(mme_torch INTERFACE)
target_link_libraries(mme_torch INTERFACE ${TORCH_LIBRARIES})
target_compile_definitions(mme_torch INTERFACE FMT_HEADER_ONLY $<$<BOOL:${MME_TORCH_CUDA}>:MME_TORCH_CUDA>
  $<$<BOOL:${MME_HAVE_GLOO}>:MME_HAVE_GLOO USE_C10D_GLOO>
  $<$<BOOL:${MME_HAVE_NCCL}>:MME_HAVE_NCCL USE_C10D_NCCL>)
# The wheel's libtorch.so exports its own copies of some libstdc++ functions (std::filesystem among
# them, built with a newer GCC). A program whose first NEEDED library is libtorch binds its own
# calls to those, and remove_all(path, error_code&) then jumps to null. Listing libstdc++ ahead of
# everything makes the dynamic linker find the system's definitions first.
target_link_options(mme_torch INTERFACE "LINKER:--push-state,--no-as-needed,-lstdc++,--pop-state")
if(MME_HAVE_GLOO)
  target_include_directories(mme_torch SYSTEM INTERFACE ${MME_GLOO_INCLUDE_DIR})
endif()
if(MME_HAVE_NCCL)
  target_include_directories(mme_torch SYSTEM INTERFACE ${MME_NCCL_INCLUDE_DIR})
endif()
