# tconv_test(NAME n SOURCES s... [LIBS l...] [LABELS unit|integration] [TIMEOUT seconds])
# One GoogleTest executable registered as one ctest test. Every such test also carries the
# label `gtest`: built from this tree only, so the sanitizer phases of scripts/test.sh rebuild
# and run all of them (the script tests of deploy/, interop/, triton/ and consumer/ drive
# outside runtimes and are left to the plain build).
function(tconv_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} tconv_testing GTest::gmock GTest::gtest_main)
  tconv_target_warnings(${T_NAME})
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS};gtest" TIMEOUT ${T_TIMEOUT})
endfunction()
