!| Feeds the `landemu` Fortran module bad input, one mistake at a time, and checks that each
!  gives a non-zero ierr with a message naming the culprit, and that the host can go on.
!
!  Usage: mpirun -n K landemu_api_checks CONFIG NCELLS [BAD_CONFIG CULPRIT]...
!    CONFIG      a landemu configuration whose host grid has NCELLS cells (ids 1..NCELLS,
!                all land), importing TBOT and PRECTmms and exporting LAI.
!    BAD_CONFIG  a configuration landemu_init must refuse, with CULPRIT (a key, a file
!                name...) in its message; any number of such pairs.
!  Prints "ok: ..." or "FAILED: ..." per check and exits non-zero if any check failed.
program landemu_api_checks
   use, intrinsic :: iso_fortran_env, only: int64, real64
   use, intrinsic :: ieee_arithmetic, only: ieee_value, ieee_quiet_nan
   use mpi
   use landemu
   implicit none

   character(len=1024) :: config, arg, bad_config, culprit
   integer :: rank, nranks, mpierr, ierr, ncells, n_local, i, direction, nlev, failures, k
   integer(int64), allocatable :: ids(:)
   real(real64), allocatable :: tbot(:), prect(:), lai(:), wide(:), twice(:)

   call MPI_Init(mpierr)
   call MPI_Comm_rank(MPI_COMM_WORLD, rank, mpierr)
   call MPI_Comm_size(MPI_COMM_WORLD, nranks, mpierr)
   failures = 0
   if (command_argument_count() < 2) then
      print '(a)', "usage: landemu_api_checks CONFIG NCELLS"
      stop 2
   end if
   call get_command_argument(1, config)
   call get_command_argument(2, arg)
   read (arg, *) ncells

   ! Round-robin cells, so every rank of a small grid still owns some.
   ids = [(int(i, int64), i=rank + 1, ncells, nranks)]
   n_local = size(ids)
   allocate (tbot(n_local), prect(n_local), lai(n_local), wide(n_local + 1))
   allocate (twice(2 * n_local))
   tbot = 280.0_real64 + 0.25_real64 * real(ids, real64)
   prect = 3.0e-5_real64
   twice = 285.0_real64

   ! -- out of order, before init ------------------------------------------------------
   call landemu_put("TBOT", tbot, ierr)
   call expect(ierr == LANDEMU_ERR_CALL_ORDER, "put before init is a call-order error", &
               "before landemu_init")
   call landemu_set_decomposition(ids, ierr)
   call expect(ierr == LANDEMU_ERR_CALL_ORDER, "set_decomposition before init", &
               "before landemu_init")

   ! -- init ---------------------------------------------------------------------------
   do k = 3, command_argument_count() - 1, 2
      call get_command_argument(k, bad_config)
      call get_command_argument(k + 1, culprit)
      call landemu_init(MPI_COMM_WORLD, trim(bad_config), ierr)
      call expect(ierr /= LANDEMU_OK, "init refuses " // trim(bad_config), trim(culprit))
   end do
   call landemu_init(MPI_COMM_WORLD, "/nonexistent/missing_config.yaml", ierr)
   call expect(ierr /= LANDEMU_OK, "init with a missing config names the file", &
               "missing_config.yaml")
   call landemu_init(MPI_COMM_WORLD, trim(config), ierr)
   call expect(ierr == LANDEMU_OK, "init", "")
   call landemu_init(MPI_COMM_WORLD, trim(config), ierr)
   call expect(ierr == LANDEMU_ERR_CALL_ORDER, "init twice is a call-order error", &
               "already initialised")
   call landemu_put("TBOT", tbot, ierr)
   call expect(ierr == LANDEMU_ERR_CALL_ORDER, "put before set_decomposition", &
               "before landemu_set_decomposition")
   call landemu_field_info("TBOT", direction, nlev, ierr)
   call expect(ierr == LANDEMU_OK .and. direction == LANDEMU_FIELD_IMPORT .and. nlev == 1, &
               "field_info: TBOT is a single-level import", "")
   call landemu_field_info("NOT_A_FIELD", direction, nlev, ierr)
   call expect(ierr == LANDEMU_OK .and. direction == LANDEMU_FIELD_NONE, &
               "field_info: an unknown name has direction NONE", "")

   call landemu_set_decomposition(ids, ierr)
   call expect(ierr == LANDEMU_OK, "set_decomposition", "")

   ! -- bad puts: each rejected with the culprit named, nothing changed -------------------
   call landemu_put("TBOTT", tbot, ierr)
   call expect(ierr == LANDEMU_ERR_FIELD, "put of an unknown field names it", "TBOTT")
   call landemu_put("TBOT", wide, ierr)
   call expect(ierr == LANDEMU_ERR_FIELD, "put with the wrong array size", "n_local")
   call landemu_put("TBOT", twice(1:2 * n_local:2), ierr)
   call expect(ierr == LANDEMU_ERR_FIELD .or. n_local < 2, &
               "put of a non-contiguous section is rejected", "non-contiguous")
   if (n_local > 0) tbot(1) = ieee_value(tbot(1), ieee_quiet_nan)
   call landemu_put("TBOT", tbot, ierr)
   call expect(ierr == LANDEMU_ERR_FIELD .or. n_local == 0, "put with a NaN names the field", &
               "TBOT")
   if (n_local > 0) tbot(1) = 1.0e6_real64
   call landemu_put("TBOT", tbot, ierr)
   call expect(ierr == LANDEMU_ERR_FIELD .or. n_local == 0, &
               "put out of the valid range names the field", "TBOT")
   if (n_local > 0) tbot(1) = 280.0_real64

   ! A call without ierr that fails prints its message and returns: the program goes on.
   call landemu_put("NOT_A_FIELD", tbot)

   ! -- the host goes on: a correct step after all these errors ---------------------------
   call landemu_put("TBOT", tbot, ierr)
   call expect(ierr == LANDEMU_OK, "put TBOT after the rejected puts", "")
   call landemu_put("PRECTmms", prect, ierr)
   call expect(ierr == LANDEMU_OK, "put PRECTmms", "")
   call landemu_advance(20010230, 0, ierr)
   call expect(ierr /= LANDEMU_OK, "advance to a date that does not exist", "20010230")
   call landemu_advance(20010102, 0, ierr)
   call expect(ierr == LANDEMU_OK, "advance one day", "")
   call landemu_get("LAI", lai, ierr)
   call expect(ierr == LANDEMU_OK, "get LAI", "")
   call expect(all(lai >= 0.0_real64 .and. lai <= 20.0_real64), "LAI is in [0, 20]", "")
   call landemu_get("TBOT", lai, ierr)
   call expect(ierr == LANDEMU_ERR_FIELD, "get of an import is rejected", "TBOT")
   call landemu_write_restart(ierr=ierr)
   call expect(ierr == LANDEMU_OK, "write_restart under the configuration's default name", "")

   call landemu_finalize(ierr)
   call expect(ierr == LANDEMU_OK, "finalize", "")
   call landemu_put("TBOT", tbot, ierr)
   call expect(ierr == LANDEMU_ERR_CALL_ORDER, "put after finalize is a call-order error", &
               "after landemu_finalize")

   call MPI_Allreduce(MPI_IN_PLACE, failures, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD, mpierr)
   call MPI_Finalize(mpierr)
   if (rank == 0) print '(i0, a)', failures, " check(s) failed"
   if (failures > 0) stop 1

contains

   !> Record one check: `ok` must hold and the last error message must contain `needle`.
   subroutine expect(ok, what, needle)
      logical, intent(in) :: ok
      character(len=*), intent(in) :: what, needle
      character(len=:), allocatable :: message
      logical :: passed
      message = landemu_last_error_message()
      passed = ok
      if (len(needle) > 0) passed = passed .and. index(message, needle) > 0
      if (.not. passed) failures = failures + 1
      if (rank == 0 .or. .not. passed) then
         if (passed) then
            print '(a, a, a, i0, a, a, a)', "ok: ", what, " (ierr ", ierr, ", message '", &
               message, "')"
         else
            print '(a, a, a, i0, a, a, a)', "FAILED: ", what, " (ierr ", ierr, &
               ", message '", message, "')"
         end if
      end if
   end subroutine expect

end program landemu_api_checks
