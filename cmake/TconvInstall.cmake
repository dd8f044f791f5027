# `cmake --install` puts the libraries, headers, tools and an exported CMake package `tconv`
# (find_package(tconv CONFIG REQUIRED) -> tconv::kernel, tconv::client, ...) under the prefix.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/kernel/include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS kernel EXPORT tconvTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
