# cmake -P script behind the `consumer_find_package` test: installs the current build into a
# fresh prefix, builds tests/consumer/project against it with find_package(tconv CONFIG
# REQUIRED) and runs the result. Variables: BUILD_DIR, SOURCE_DIR, WORK_DIR, GENERATOR,
# CXX_COMPILER, BUILD_TYPE, SANITIZE (TCONV_SANITIZE with commas, possibly empty).
foreach(_var BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER BUILD_TYPE)
  if(NOT DEFINED ${_var})
    message(FATAL_ERROR "run_consumer.cmake needs -D${_var}=...")
  endif()
endforeach()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE _result OUTPUT_VARIABLE _out
                  ERROR_VARIABLE _out)
  if(NOT _result EQUAL 0)
    message(FATAL_ERROR "${what} failed (${_result}):\n${_out}")
  endif()
  message(STATUS "${what}: ok")
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(_prefix ${WORK_DIR}/prefix)
run_step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${_prefix})

set(_flags "")
if(SANITIZE)
  set(_flags "-fsanitize=${SANITIZE}")
endif()
run_step("configure the consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${WORK_DIR}/build
         -G ${GENERATOR} -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
         -DCMAKE_CXX_FLAGS=${_flags} -DCMAKE_EXE_LINKER_FLAGS=${_flags}
         -DCMAKE_PREFIX_PATH=${_prefix} -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
         # The client must not need oneTBB (only tconv::kernel does): hide it.
         -DCMAKE_DISABLE_FIND_PACKAGE_TBB=ON)
run_step("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run_step("run the consumer without a server" ${WORK_DIR}/build/tconv_consumer)
if(EXISTS ${_prefix}/bin/tconv-server)
  run_step("run the consumer against the installed tconv-server"
           ${WORK_DIR}/build/tconv_consumer --start_server=${_prefix}/bin/tconv-server)
endif()
