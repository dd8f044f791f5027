# tconv-server: the server binary (flags -> Options, signals -> graceful shutdown).
include(GNUInstallDirs)
add_executable(tconv-server ${CMAKE_CURRENT_SOURCE_DIR}/main.cc)
target_link_libraries(tconv-server PRIVATE tconv::server_grpc tconv::server_core
                                           tconv::server_metrics absl::flags
                                           absl::flags_parse absl::flags_reflection absl::flags_usage
                                           absl::strings
                                           absl::synchronization)
target_compile_definitions(tconv-server PRIVATE TCONV_VERSION="${PROJECT_VERSION}")
tconv_target_warnings(tconv-server)
install(TARGETS tconv-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
