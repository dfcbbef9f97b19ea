# harness/sched.cmake — the controlled scheduler (issue 15), included from the top-level
# CMakeLists.txt after harness/ and fuzz/ (so it touches neither directory's list file).
# Owns: library galloc_sched (harness/sched.c, mt*.c), galloc-sched (search), the mt mode
# of galloc-replay (linked in here), fuzz_mt (standalone / libFuzzer), and the sched.*
# tests. Schedule points exist only in the sched preset (GALLOC_SCHED): elsewhere the
# library builds (so galloc-replay links everywhere) but the tests are registered only
# where they can mean something.
add_library(galloc_sched STATIC
  ${CMAKE_SOURCE_DIR}/harness/sched.c
  ${CMAKE_SOURCE_DIR}/harness/mt.c
  ${CMAKE_SOURCE_DIR}/harness/mt_format.c
  ${CMAKE_SOURCE_DIR}/harness/mt_min.c
  ${CMAKE_SOURCE_DIR}/harness/mt_tool.c)
target_include_directories(galloc_sched PUBLIC ${CMAKE_SOURCE_DIR}/harness ${CMAKE_SOURCE_DIR}/alloc)
target_link_libraries(galloc_sched PUBLIC galloc_core)
target_link_libraries(galloc-replay PRIVATE galloc_sched)

add_executable(galloc-sched ${CMAKE_SOURCE_DIR}/harness/mt_search.c)
target_link_libraries(galloc-sched PRIVATE galloc_sched)

# fuzz_mt: input = per-thread ops + (gap, thread) preemption pairs (mt_decode_fuzz).
add_executable(fuzz_mt ${CMAKE_SOURCE_DIR}/fuzz/fuzz_mt.c ${CMAKE_SOURCE_DIR}/fuzz/standalone.c)
target_link_libraries(fuzz_mt PRIVATE galloc_sched galloc_fuzz_common)
target_include_directories(fuzz_mt PRIVATE ${CMAKE_SOURCE_DIR}/fuzz)
if(GALLOC_FUZZ)
  # libFuzzer: configure the sched preset with -DGALLOC_FUZZ=ON -DCMAKE_C_COMPILER=clang
  add_executable(fuzz_mt.libfuzzer ${CMAKE_SOURCE_DIR}/fuzz/fuzz_mt.c)
  target_compile_options(fuzz_mt.libfuzzer PRIVATE -fsanitize=fuzzer)
  target_link_options(fuzz_mt.libfuzzer PRIVATE -fsanitize=fuzzer)
  target_link_libraries(fuzz_mt.libfuzzer PRIVATE galloc_sched galloc_fuzz_common)
  target_include_directories(fuzz_mt.libfuzzer PRIVATE ${CMAKE_SOURCE_DIR}/fuzz)
endif()

if(GALLOC_SCHED)
  # Unit tests of the scheduler and the format; the late sweep request as a directed schedule
  # (the test of record: the allocator has no free_published_hook any more).
  ga_add_test(sched.unit SOURCES ${CMAKE_SOURCE_DIR}/harness/tests/sched_unit.c LIBS galloc_sched LABELS "unit;smoke;sched" TIMEOUT 120)
  target_include_directories(sched.unit PRIVATE ${CMAKE_SOURCE_DIR}/alloc/tests)
  # Every stored multi-threaded reproducer: with its plant it must report its check,
  # without it must be clean; 100 replays must be identical (harness/tests/sched_regressions.sh).
  add_test(NAME sched.regressions
           COMMAND bash ${CMAKE_SOURCE_DIR}/harness/tests/sched_regressions.sh $<TARGET_FILE:galloc-replay>
                   ${CMAKE_SOURCE_DIR}/corpora/regressions/mt 100)
  set_tests_properties(sched.regressions PROPERTIES LABELS "corpus;smoke;sched" TIMEOUT 300)
  # The same reproducers, 10 separate processes each with and without the plant: identical
  # output (addresses included) in every process, not only in --repeat within one (ASLR; under
  # TSan the arena hints must lie in its application range: alloc/internal.h GA_HINT_BASE).
  # The nightly runs it with 100 in the sched-tsan preset (ci/nightly.sh sched-tsan.replays).
  add_test(NAME sched.processes
           COMMAND bash ${CMAKE_SOURCE_DIR}/harness/tests/sched_processes.sh $<TARGET_FILE:galloc-replay>
                   ${CMAKE_SOURCE_DIR}/corpora/regressions/mt 10)
  set_tests_properties(sched.processes PROPERTIES LABELS "corpus;sched" TIMEOUT 300)
  # galloc-replay --mt --emit-c on every stored reproducer: the C program, built with this
  # build's compiler against its libraries, must report the identical finding and run clean
  # with --no-plant (harness/tests/sched_emit_c.sh).
  set(emit_flags)
  if(GALLOC_SANITIZE)
    set(emit_flags -fsanitize=${GALLOC_SANITIZE})
  endif()
  add_test(NAME sched.emit_c
           COMMAND bash ${CMAKE_SOURCE_DIR}/harness/tests/sched_emit_c.sh $<TARGET_FILE:galloc-replay> ${CMAKE_C_COMPILER}
                   ${CMAKE_SOURCE_DIR} $<TARGET_FILE:galloc_sched> $<TARGET_FILE:galloc_core>
                   ${CMAKE_SOURCE_DIR}/corpora/regressions/mt ${CMAKE_BINARY_DIR}/sched-emit-c ${emit_flags})
  set_tests_properties(sched.emit_c PROPERTIES LABELS "corpus;sched" TIMEOUT 300)
  # Short searches per plant (seed 1, 20 s cap each; nightly runs the 10-seed table).
  # (gc-end-order is found by pos for only 6 of 10 seeds in 60 s: nightly sched.table reports
  # it, a hand-written schedule in corpora/regressions/mt/ replays it)
  foreach(plant lost-sweep-request cross-cache-free gc-begin-one-pass)
    add_test(NAME sched.find.${plant} COMMAND galloc-sched --plant ${plant} --seed 1 --seconds 20 -q --no-minimize
             --out ${CMAKE_BINARY_DIR}/sched-find-${plant}.mt)
    set_tests_properties(sched.find.${plant} PROPERTIES LABELS "sched" TIMEOUT 60 PASS_REGULAR_EXPRESSION "FOUND after")
  endforeach()
  # Without a plant a search must stay clean.
  add_test(NAME sched.clean COMMAND galloc-sched --seed 7 --seconds 5 -q)
  set_tests_properties(sched.clean PROPERTIES LABELS "sched" TIMEOUT 60)
  # fuzz_mt's seeds replay clean.
  add_test(NAME sched.fuzz_mt COMMAND fuzz_mt ${CMAKE_SOURCE_DIR}/fuzz/seeds/fuzz_mt)
  set_tests_properties(sched.fuzz_mt PROPERTIES LABELS "sched;fuzz" TIMEOUT 120)
  # The long searches: nightly only.
  add_test(NAME sched.table COMMAND bash ${CMAKE_SOURCE_DIR}/harness/tests/sched_table.sh $<TARGET_FILE:galloc-sched> 60 10)
  set_tests_properties(sched.table PROPERTIES LABELS "nightly;sched" TIMEOUT 7200)
endif()
