# Install the libraries, their headers and a package config, so that consumers can say
# find_package(tendril [COMPONENTS coroutines flow redis state stream]) and link tendril::<component>.
include(CMakePackageConfigHelpers)

install(TARGETS ${tendril_installed_targets} EXPORT tendrilTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/tendril DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tendrilTargets NAMESPACE tendril:: FILE tendrilTargets.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tendril)
configure_package_config_file(cmake/tendrilConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tendrilConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tendril)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tendrilConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tendrilConfig.cmake
              ${PROJECT_BINARY_DIR}/tendrilConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tendril)
