# The generation commands (run, chat, bench, perplexity) driven end to end through the
# binary, with Debian's python3 (numpy for the reference forwards, jinja2, pty for chat).
if(EXISTS /usr/bin/python3)
  add_test(NAME e2e_generation_cli
           COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/test_generation_cli.py -v)
  set_tests_properties(e2e_generation_cli PROPERTIES
                       ENVIRONMENT "MOXIE_BIN=$<TARGET_FILE:moxie>"
                       TIMEOUT 900)
endif()
