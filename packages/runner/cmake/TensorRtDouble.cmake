# TensorRT without TensorRT, part 2: the TensorRT test double. For every header set found by
# TensorRtMatrix.cmake: a fake libnvinfer compiled against those headers (tests/trt_double), the
# runner's TensorRT backend compiled against them (with the matrix's strict flags), a runner build
# `facefleet-runner-trt<V>` and a GoogleTest binary `facefleet_tensorrt_tests_<V>` (ctest names
# tensorrt<V>.*) that run the golden data and the precondition tests through `--backend tensorrt`.
# Nothing links a real libnvinfer. Version-independent parts are built once: the fake CUDA runtime,
# the double's engine format and ONNX twin, and the test sources.

if(NOT FACEFLEET_BUILD_TESTS)
  return()
endif()
if(NOT FACEFLEET_TRT_AVAILABLE_VERSIONS)
  facefleet_not_applicable_test(tensorrt.double
    "no TensorRT header set or no CUDA runtime headers (see tensorrt.compile.*): the TensorRT double is not built")
  return()
endif()
if(NOT NODE_EXECUTABLE)
  facefleet_not_applicable_test(tensorrt.double
    "Node.js not found: tools/gen-trt-double-stubs.mjs cannot generate the double's TensorRT interfaces")
  return()
endif()

set(_dbl ${CMAKE_CURRENT_SOURCE_DIR}/tests/trt_double)

add_library(facefleet_fake_cudart STATIC ${_dbl}/fake_cuda_runtime.cpp)
target_include_directories(facefleet_fake_cudart SYSTEM PUBLIC ${FACEFLEET_CUDA_INCLUDE_DIR})
target_compile_options(facefleet_fake_cudart PRIVATE -Werror)

add_library(facefleet_trt_double_core STATIC ${_dbl}/trt_double_core.cpp)
target_include_directories(facefleet_trt_double_core SYSTEM PUBLIC ${OpenCV_INCLUDE_DIRS})
target_link_libraries(facefleet_trt_double_core PUBLIC ${OpenCV_LIBS})
target_compile_options(facefleet_trt_double_core PRIVATE -Werror)

add_library(facefleet_runner_main OBJECT src/main.cpp)
target_link_libraries(facefleet_runner_main PRIVATE facefleet_postprocess)

add_library(facefleet_tensorrt_tests_obj OBJECT tests/tensorrt_test.cpp)
target_link_libraries(facefleet_tensorrt_tests_obj PRIVATE facefleet_runner_core GTest::gtest)
target_compile_definitions(facefleet_tensorrt_tests_obj PRIVATE
  FACEFLEET_MODELS_DIR="${FACEFLEET_MODELS_DIR}"
  FACEFLEET_SAMPLE_DATA_DIR="${FACEFLEET_SAMPLE_DATA_DIR}"
  FACEFLEET_RUNNER_BIN="$<TARGET_FILE:facefleet-runner>")

foreach(v IN LISTS FACEFLEET_TRT_AVAILABLE_VERSIONS)
  string(REPLACE "." "_" id "${v}")
  set(_gen ${CMAKE_CURRENT_BINARY_DIR}/trt-double/${v})
  set(_trt_inc ${FACEFLEET_TRT_INCLUDE_${v}})
  add_custom_command(
    OUTPUT ${_gen}/trt_double_stubs.hpp
    COMMAND ${NODE_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/tools/gen-trt-double-stubs.mjs
            ${_trt_inc}/NvInferImpl.h ${_gen}/trt_double_stubs.hpp
    DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/tools/gen-trt-double-stubs.mjs ${_trt_inc}/NvInferImpl.h
    COMMENT "TensorRT double: interface stubs for TensorRT ${v}")

  # The fake libnvinfer of this version.
  add_library(facefleet_trt_double_${id} STATIC ${_dbl}/fake_nvinfer.cpp ${_gen}/trt_double_stubs.hpp)
  target_include_directories(facefleet_trt_double_${id} PRIVATE ${_gen} ${_dbl})
  target_include_directories(facefleet_trt_double_${id} SYSTEM PRIVATE ${_trt_inc})
  target_compile_options(facefleet_trt_double_${id} PRIVATE ${FACEFLEET_TRT_STRICT_FLAGS})
  target_link_libraries(facefleet_trt_double_${id} PUBLIC facefleet_trt_double_core facefleet_fake_cudart)

  # The runner's backend against this version, held to the compile matrix's flags.
  add_library(facefleet_tensorrt_backend_${id} OBJECT src/backend_tensorrt.cpp)
  target_link_libraries(facefleet_tensorrt_backend_${id} PUBLIC facefleet_postprocess)
  target_include_directories(facefleet_tensorrt_backend_${id} SYSTEM PRIVATE ${_trt_inc} ${FACEFLEET_CUDA_INCLUDE_DIR})
  target_compile_options(facefleet_tensorrt_backend_${id} PRIVATE ${FACEFLEET_TRT_STRICT_FLAGS})

  add_executable(facefleet-runner-trt${v} $<TARGET_OBJECTS:facefleet_runner_main>)
  target_link_libraries(facefleet-runner-trt${v} PRIVATE facefleet_runner_core facefleet_tensorrt_backend_${id}
                        facefleet_trt_double_${id})

  add_executable(facefleet_tensorrt_tests_${id} $<TARGET_OBJECTS:facefleet_tensorrt_tests_obj>)
  target_link_libraries(facefleet_tensorrt_tests_${id} PRIVATE facefleet_runner_core facefleet_tensorrt_backend_${id}
                        facefleet_trt_double_${id} GTest::gtest GTest::gtest_main)
  add_dependencies(facefleet_tensorrt_tests_${id} facefleet-runner-trt${v} facefleet-runner)
  if(TARGET detectnet_model)
    add_dependencies(facefleet_tensorrt_tests_${id} detectnet_model)
  endif()
  gtest_discover_tests(facefleet_tensorrt_tests_${id} TEST_PREFIX "tensorrt${v}." DISCOVERY_TIMEOUT 30
    PROPERTIES TIMEOUT 300 LABELS tensorrt
               ENVIRONMENT "FACEFLEET_TRT_RUNNER_BIN=${CMAKE_CURRENT_BINARY_DIR}/facefleet-runner-trt${v}")
endforeach()
