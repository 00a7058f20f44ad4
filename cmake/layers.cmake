# Refuses an #include that reaches up the layers (see docs/architecture.md).

add_custom_target(check_layers ALL
  COMMAND ${CMAKE_COMMAND} -DSRC_DIR=${CMAKE_SOURCE_DIR}/src -P ${CMAKE_SOURCE_DIR}/cmake/check_layers.cmake
  COMMENT "Checking that no layer includes a layer above it"
  VERBATIM)
