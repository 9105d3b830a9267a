# ctest entry for `moxie serve` with real clients; included by tests/CMakeLists.txt.
#  e2e_server_openai  the official `openai` npm client (pinned in package-lock.json) against
#                     a real server on a synthetic model, plus hundreds of malformed requests
#                     (tests/e2e/server/*.test.mjs). Needs node and npm (as the web build).
find_program(MOXIE_SERVER_E2E_NODE node)
find_program(MOXIE_SERVER_E2E_NPM npm)
if(MOXIE_SERVER_E2E_NODE AND MOXIE_SERVER_E2E_NPM)
  add_test(NAME e2e_server_openai COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)
  set_tests_properties(e2e_server_openai PROPERTIES
                       ENVIRONMENT "MOXIE_BIN=$<TARGET_FILE:moxie>"
                       TIMEOUT 600)
endif()
