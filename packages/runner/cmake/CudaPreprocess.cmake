# GPU preprocessing: src/cuda/gpu_preprocess.cu (the per-pixel maths of preprocess_pixel.hpp as a
# CUDA kernel) compiled with nvcc where it is (FACEFLEET_CUDA=AUTO; /usr/local/cuda/bin/nvcc is
# found without PATH), and its tests:
#   cuda.preprocess.nvcc  the test binary carries device code from nvcc (else NOT APPLICABLE: no nvcc)
#   cuda.preprocess.gpu   the kernel on a real GPU equals the CPU path (else NOT APPLICABLE: no GPU)
# The CPU proof that the shared maths equals the CPU preprocessing runs everywhere
# (tests/preprocess_pixel_test.cpp in facefleet_golden_tests).

set(FACEFLEET_CUDA AUTO CACHE STRING "Build the CUDA preprocessing kernel: AUTO (where nvcc is), ON or OFF")
set_property(CACHE FACEFLEET_CUDA PROPERTY STRINGS AUTO ON OFF)
set(FACEFLEET_HAVE_CUDA_KERNEL OFF)
if(NOT FACEFLEET_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND NOT "$ENV{CUDACXX}" AND EXISTS /usr/local/cuda/bin/nvcc)
    set(CMAKE_CUDA_COMPILER /usr/local/cuda/bin/nvcc)
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  # The kernel is C++17 (nvcc 11 and newer) and names its architectures the CMake 3.18 way.
  # JetPack 4 has CUDA 10.2 and CMake 3.16: there the kernel is left out (AUTO) rather than failing.
  set(_facefleet_cuda_unusable "")
  if(CMAKE_CUDA_COMPILER)
    execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --version OUTPUT_VARIABLE _nvcc_out ERROR_QUIET)
    string(REGEX MATCH "release ([0-9]+)\\.([0-9]+)" _nvcc_release "${_nvcc_out}")
    if(CMAKE_MATCH_1 AND CMAKE_MATCH_1 LESS 11)
      set(_facefleet_cuda_unusable "nvcc ${CMAKE_MATCH_1}.${CMAKE_MATCH_2} has no C++17 (needs CUDA 11+)")
    elseif(CMAKE_VERSION VERSION_LESS 3.18)
      set(_facefleet_cuda_unusable "CMake ${CMAKE_VERSION} is older than 3.18")
    endif()
  endif()
  if(CMAKE_CUDA_COMPILER AND _facefleet_cuda_unusable AND FACEFLEET_CUDA STREQUAL "ON")
    message(FATAL_ERROR "FACEFLEET_CUDA=ON but ${_facefleet_cuda_unusable}")
  elseif(_facefleet_cuda_unusable)
    message(STATUS "facefleet-runner: CUDA preprocessing kernel left out: ${_facefleet_cuda_unusable}")
  elseif(CMAKE_CUDA_COMPILER)
    # Orin (sm_87) and Hopper (sm_90) as machine code, PTX for Turing and newer to JIT-compile.
    # JetPack 4/5 (Nano, Xavier: sm_53/sm_72) build with their own CUDA 10.2/11.4 and set this.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      set(CMAKE_CUDA_ARCHITECTURES 75-virtual 87-real 90-real)
    endif()
    enable_language(CUDA)
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    find_package(CUDAToolkit REQUIRED)
    set(FACEFLEET_HAVE_CUDA_KERNEL ON)
  elseif(FACEFLEET_CUDA STREQUAL "ON")
    message(FATAL_ERROR "FACEFLEET_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()
message(STATUS "facefleet-runner: CUDA preprocessing kernel ${FACEFLEET_HAVE_CUDA_KERNEL}"
               " (${CMAKE_CUDA_COMPILER} ${CMAKE_CUDA_COMPILER_VERSION}; architectures ${CMAKE_CUDA_ARCHITECTURES})")

if(FACEFLEET_HAVE_CUDA_KERNEL)
  add_library(facefleet_gpu_preprocess STATIC src/cuda/gpu_preprocess.cu)
  target_link_libraries(facefleet_gpu_preprocess PUBLIC facefleet_postprocess CUDA::cudart_static)
  # nvcc's own warnings and the host compiler's (-Wpedantic would flag nvcc's generated line markers).
  target_compile_options(facefleet_gpu_preprocess PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Werror=all-warnings -Xcompiler=-Wall,-Wextra,-Werror>)
  target_link_libraries(facefleet-preprocess-bench PRIVATE facefleet_gpu_preprocess)
  target_compile_definitions(facefleet-preprocess-bench PRIVATE FACEFLEET_HAVE_CUDA_KERNEL=1)
endif()

if(NOT FACEFLEET_BUILD_TESTS)
  return()
endif()
if(NOT FACEFLEET_HAVE_CUDA_KERNEL)
  set(_why "no CUDA compiler (nvcc)")
  if(_facefleet_cuda_unusable)
    set(_why "${_facefleet_cuda_unusable}")
  elseif(FACEFLEET_CUDA STREQUAL "OFF")
    set(_why "FACEFLEET_CUDA=OFF")
  endif()
  facefleet_not_applicable_test(cuda.preprocess.nvcc "${_why}: the preprocessing kernel was not compiled")
  facefleet_not_applicable_test(cuda.preprocess.gpu "${_why}: the preprocessing kernel was not built, so it cannot run")
  return()
endif()
add_executable(facefleet_gpu_preprocess_tests tests/gpu_preprocess_test.cpp)
target_link_libraries(facefleet_gpu_preprocess_tests PRIVATE facefleet_gpu_preprocess facefleet_runner_core GTest::gtest)
target_compile_definitions(facefleet_gpu_preprocess_tests PRIVATE
  FACEFLEET_MODELS_DIR="${FACEFLEET_MODELS_DIR}"
  FACEFLEET_SAMPLE_DATA_DIR="${FACEFLEET_SAMPLE_DATA_DIR}"
  FACEFLEET_RUNNER_BIN="$<TARGET_FILE:facefleet-runner>")
string(REPLACE ";" " " _facefleet_archs "${CMAKE_CUDA_ARCHITECTURES}")
add_test(NAME cuda.preprocess.nvcc
         COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/scripts/check-device-code.sh $<TARGET_FILE:facefleet_gpu_preprocess_tests>
                 ${CMAKE_CUDA_COMPILER} "${_facefleet_archs}")
add_test(NAME cuda.preprocess.gpu COMMAND facefleet_gpu_preprocess_tests)
set_tests_properties(cuda.preprocess.gpu PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300)
