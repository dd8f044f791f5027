# `cmake --install` puts the libraries, headers, tools and an exported CMake package `tconv`
# (find_package(tconv CONFIG REQUIRED) -> tconv::kernel, tconv::proto, tconv::client) under the
# prefix. Targets of the export sets are static libraries, so their private dependencies are
# part of the link interface: tconvConfig.cmake finds each of them again. Two export sets, so
# that each target brings only what it needs: tconvTargets (status, proto, client: Abseil,
# Protobuf, gRPC) and tconvKernelTargets (kernel: also oneTBB, nlohmann-json, libmvec).
# The generated proto headers and the tool/server binaries are installed by their own folders.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(TCONV_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/tconv)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/status/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/kernel/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS status EXPORT tconvTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS kernel EXPORT tconvKernelTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})

if(TARGET client)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/client/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
  install(TARGETS client EXPORT tconvTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
endif()

# The service targets (tconv::proto, tconv::client) exist only with TCONV_BUILD_SERVICE; the
# package config needs gRPC and Protobuf only then.
set(TCONV_PACKAGE_WITH_SERVICE ${TCONV_BUILD_SERVICE})
install(EXPORT tconvTargets NAMESPACE tconv:: DESTINATION ${TCONV_INSTALL_CMAKEDIR})
install(EXPORT tconvKernelTargets NAMESPACE tconv:: DESTINATION ${TCONV_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/tconvConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tconvConfig.cmake INSTALL_DESTINATION ${TCONV_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tconvConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tconvConfig.cmake ${PROJECT_BINARY_DIR}/tconvConfigVersion.cmake
  DESTINATION ${TCONV_INSTALL_CMAKEDIR})
