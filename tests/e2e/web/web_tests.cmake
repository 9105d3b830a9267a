# ctest entries for the chat page; included by tests/CMakeLists.txt.
#  web_typecheck  TypeScript's checker over web/src (strict)
#  web_unit       the page's pure logic (SSE, <think>, usage and cost, error sentences)
#  web_e2e        browser tests (playwright-core + Debian's Chromium) against the real
#                 `moxie serve` on synthetic models (MOXIE_BIN; see harness.mjs), screenshots
#                 into <build>/web/e2e-artifacts. Skipped in sanitizer builds (too slow there).
if(MOXIE_WEB)
  add_test(NAME web_typecheck
           COMMAND ${PROJECT_SOURCE_DIR}/web/node_modules/.bin/tsc -p ${PROJECT_SOURCE_DIR}/web/tsconfig.json)
  add_test(NAME web_unit COMMAND ${MOXIE_NODE} --test ${PROJECT_SOURCE_DIR}/web/test/)
  if(NOT MOXIE_SANITIZE)
    add_test(NAME web_e2e COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)
    set_tests_properties(web_e2e PROPERTIES
      TIMEOUT 600
      ENVIRONMENT "MOXIE_BIN=$<TARGET_FILE:moxie>;MOXIE_WEB_DIST=${PROJECT_BINARY_DIR}/web/dist;MOXIE_WEB_E2E_ARTIFACTS=${PROJECT_BINARY_DIR}/web/e2e-artifacts")
  endif()
endif()
