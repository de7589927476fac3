# SPDX-License-Identifier: Apache-2.0
# Every ```c block of README.md and docs/*.md still compiles against the
# headers in the tree (programs as written, SYNOPSIS declarations against
# the real ones, fragments for the rein names they use): a doc that drifted
# from the API fails here. See tests/docs/doc_examples.sh.
add_test(NAME doc_examples
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/docs/doc_examples.sh
                 ${CMAKE_C_COMPILER} ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
set_tests_properties(doc_examples PROPERTIES LABELS unit TIMEOUT 120)

# Every source, build and script file carries its SPDX licence line.
add_test(NAME spdx
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/docs/spdx.sh ${PROJECT_SOURCE_DIR})
set_tests_properties(spdx PROPERTIES LABELS unit TIMEOUT 60)

# docs/contract.schema.json's policy fields are the model's, field by field
# (rein policy --fields --json; tests/docs/model_schema.py --write
# regenerates them).
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND AND TARGET rein_cli)
  add_test(NAME model_schema
           COMMAND ${Python3_EXECUTABLE}
                   ${CMAKE_CURRENT_SOURCE_DIR}/docs/model_schema.py
                   $<TARGET_FILE:rein_cli>
                   ${PROJECT_SOURCE_DIR}/docs/contract.schema.json)
  set_tests_properties(model_schema PROPERTIES LABELS unit TIMEOUT 60)
endif()

# The CLI stays thin (issue 13): no file under cli/ over 500 lines; the
# logic lives in the libraries.
add_test(NAME cli_thin
         COMMAND sh -c "big=$(wc -l ${PROJECT_SOURCE_DIR}/cli/*.c ${PROJECT_SOURCE_DIR}/cli/*.h | awk '$2 != \"total\" && $1 > 500'); [ -z \"$big\" ] || { echo \"over 500 lines: $big\"; exit 1; }")
set_tests_properties(cli_thin PROPERTIES LABELS unit TIMEOUT 30)

# One builder for a policy's budget, breaker and throttle (issue 13).
add_test(NAME one_builder
         COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/docs/one_builder.sh
                 ${PROJECT_SOURCE_DIR})
set_tests_properties(one_builder PROPERTIES LABELS unit TIMEOUT 30)
