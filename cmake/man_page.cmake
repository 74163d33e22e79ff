# cmake -DGO_MD2MAN=... -DSOURCE=docs/cli.md -DOUTPUT=tendril.1 -DVERSION=x.y.z -P man_page.cmake
# The manual page tendril(1) from the CLI's doc page: a title line, go-md2man, and the hint
# that tells man to run tbl (the page has tables).
file(READ ${SOURCE} body)
set(markdown ${OUTPUT}.md)
file(WRITE ${markdown} "% TENDRIL 1 \"\" \"tendril ${VERSION}\" \"User Commands\"\n${body}")
execute_process(COMMAND ${GO_MD2MAN} -in ${markdown} OUTPUT_VARIABLE roff RESULT_VARIABLE failed)
if(failed)
  message(FATAL_ERROR "go-md2man could not convert ${SOURCE}")
endif()
file(WRITE ${OUTPUT} "'\\\" t\n${roff}")
file(REMOVE ${markdown})
