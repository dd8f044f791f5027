# Language level, warnings and sanitizers for every tconv target.
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_POSITION_INDEPENDENT_CODE ON)
# compile_commands.json, for clang-tidy (scripts/lint.sh).
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
# A compiler cache, when the machine has one (scripts/install-deps.sh installs it): CI's several
# builds (Release, ASan+UBSan, TSan) and later runs on the same machine reuse its objects.
find_program(TCONV_CCACHE ccache)
if(TCONV_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  # Paths relative to the checkout, so that another clone (CI's) hits the same entries.
  set(_tconv_launcher env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} CCACHE_NOHASHDIR=1 ${TCONV_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${_tconv_launcher})
  set(CMAKE_C_COMPILER_LAUNCHER ${_tconv_launcher})
endif()
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE Release CACHE STRING "Build type" FORCE)
endif()

# Applied per target (tconv_target_warnings) so that generated protobuf code is not held to them.
function(tconv_target_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
  if(TCONV_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()

if(TCONV_SANITIZE)
  string(REPLACE ";" "," _tconv_sanitizers "${TCONV_SANITIZE}")
  add_compile_options(-fsanitize=${_tconv_sanitizers} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${_tconv_sanitizers})
endif()

# libFuzzer: every tconv object gets its coverage instrumentation; only the fuzz targets link
# the fuzzer's main (tests/fuzz). Debian's gRPC, protobuf and Abseil are gcc builds without it:
# they link fine (both compilers use libstdc++) but add no coverage, and ASan does not see
# inside them.
if(TCONV_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "TCONV_FUZZ needs clang (-DCMAKE_CXX_COMPILER=clang++-14); "
                        "this is ${CMAKE_CXX_COMPILER_ID}")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()
