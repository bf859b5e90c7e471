!| landemu's Fortran test host: drives landemu the way a land model does, and checks it.
!
!  Usage: mpirun -n K landemu_testhost [NAMELIST]      (default NAMELIST: testhost.nml)
!
!  It reads a host grid (an E3SM domain file, or a regular lat-lon grid from the namelist),
!  makes its own decomposition of the land cells over its MPI ranks, starts landemu on
!  MPI_COMM_WORLD, and runs a time loop: at every coupling step it puts analytic
!  forcing-like fields (testhost_forcing) for every import the configuration has, advances
!  landemu to the end of the step, gets every export, and checks what came back (finite,
!  within the physical range of the field, and, for the pairs named in the namelist,
!  equal to what was put). Exports (and the imports put) can be written, gathered on rank 0
!  in global-id order with 17 significant digits, to compare runs bit for bit (rank counts,
!  restarts) and to check the array layout against landemu's own output.
!  Rank 0 writes a short summary. The exit status is non-zero on any failure.
!
!  Namelist &testhost (defaults in brackets):
!    config              landemu's YAML configuration ['landemu.yaml']
!    domain_file         E3SM domain file; if empty, the regular grid below ['']
!    nlat, nlon, south, north, west, east   regular grid (all land) [0, 0, -90, 90, 0, 360]
!    decomposition       'block' or 'roundrobin' ['block']
!    calendar            'noleap' or 'gregorian' (must match landemu's) ['noleap']
!    start_ymd, start_tod  start of the run [20010101, 0]
!    ndays               length of the run in days [365]
!    coupling_seconds    coupling interval; must divide 86400 [86400]
!    export_names        exports to get if the configuration has them [LAI, PCT_NAT_PFT, ...]
!    roundtrip_import, roundtrip_export   pairs (import i comes back as export i) ['']
!    roundtrip_tolerance relative tolerance of those checks (0 = bit for bit) [0]
!    restart_file        if set, landemu_write_restart(restart_file) after the last step ['']
!    exports_file        if set, file of exports gathered on rank 0 ['']
!    dump_every          steps between dumps to exports_file (0: the last step only) [0]
!    summary_file        summary written by rank 0 ['testhost_summary.txt']
program landemu_testhost
   use, intrinsic :: iso_fortran_env, only: int64, real64, error_unit, output_unit
   use mpi
   use landemu
   use testhost_calendar, only: add_seconds, day_of_year, days_in_year, valid_date
   use testhost_forcing, only: export_range, forcing, forcing_names
   use host_domain, only: e3sm_domain, decompose_cells, read_e3sm_domain
   use testhost_grid, only: regular_grid
   implicit none

   !> A field the host exchanges with landemu: its name and this rank's values.
   type field_buffer
      character(len=32) :: name = ""
      integer :: nlev = 0
      integer :: axes(2) = 0                     ! sizes of two named level axes, if any
      real(real64), allocatable :: values(:, :)  ! (n_local, nlev)
   end type field_buffer

   integer, parameter :: max_names = 40, max_reported = 5

   ! ---- namelist ----
   character(len=1024) :: config = "landemu.yaml", domain_file = "", restart_file = ""
   character(len=1024) :: exports_file = "", summary_file = "testhost_summary.txt"
   character(len=16) :: decomposition = "block", calendar = "noleap"
   integer :: nlat = 0, nlon = 0, start_ymd = 20010101, start_tod = 0, ndays = 365
   integer :: coupling_seconds = 86400, dump_every = 0
   real(real64) :: south = -90, north = 90, west = 0, east = 360, roundtrip_tolerance = 0
   character(len=32) :: export_names(max_names) = ""
   character(len=32) :: roundtrip_import(8) = "", roundtrip_export(8) = ""
   namelist /testhost/ config, domain_file, nlat, nlon, south, north, west, east, &
      decomposition, calendar, start_ymd, start_tod, ndays, coupling_seconds, export_names, &
      roundtrip_import, roundtrip_export, roundtrip_tolerance, restart_file, exports_file, &
      dump_every, summary_file

   ! ---- state ----
   type(e3sm_domain) :: grid
   type(field_buffer), allocatable :: imports(:), exports(:)
   integer(int64), allocatable :: global_ids(:), all_ids(:)
   integer, allocatable :: counts(:), displs(:)
   real(real64), allocatable :: lat(:), lon(:)
   character(len=:), allocatable :: message
   character(len=1024) :: namelist_file
   integer :: rank, nranks, mpierr, ierr, n_local, nsteps, step, ymd, tod, dump_unit
   integer :: failures = 0, reported = 0
   real(real64) :: wall_start

   call MPI_Init(mpierr)
   call MPI_Comm_rank(MPI_COMM_WORLD, rank, mpierr)
   call MPI_Comm_size(MPI_COMM_WORLD, nranks, mpierr)
   wall_start = MPI_Wtime()

   call read_namelist()
   if (len_trim(domain_file) > 0) then
      call read_e3sm_domain(trim(domain_file), grid, message)
      if (message /= "") call stop_run(message)
   else
      if (nlat < 1 .or. nlon < 1) &
         call stop_run("namelist: set domain_file, or nlat and nlon of a regular grid")
      call regular_grid(nlat, nlon, south, north, west, east, grid)
   end if
   call decompose_cells(grid%mask, trim(decomposition), rank, nranks, global_ids, message)
   if (message /= "") call stop_run(message)
   n_local = size(global_ids)
   lat = grid%lat(global_ids)
   lon = grid%lon(global_ids)
   call gather_ids()

   call landemu_init(MPI_COMM_WORLD, trim(config), ierr)
   call require(ierr, "landemu_init")
   call landemu_set_decomposition(global_ids, ierr)
   call require(ierr, "landemu_set_decomposition")
   call discover_fields()

   if (len_trim(exports_file) > 0 .and. rank == 0) &
      open (newunit=dump_unit, file=trim(exports_file), status="replace", action="write")

   ymd = start_ymd
   tod = start_tod
   do step = 1, nsteps
      call put_forcing(ymd, tod)
      call add_seconds(ymd, tod, coupling_seconds, trim(calendar))
      call landemu_advance(ymd, tod, ierr)
      call require(ierr, "landemu_advance")
      call get_and_check_exports(ymd, tod)
      if (len_trim(exports_file) > 0) then
         if (step == nsteps .or. (dump_every > 0 .and. mod(step, max(dump_every, 1)) == 0)) &
            call dump_exports(ymd, tod)
      end if
   end do

   if (len_trim(restart_file) > 0) then
      call landemu_write_restart(trim(restart_file), ierr)
      call require(ierr, "landemu_write_restart")
   end if
   call landemu_finalize(ierr)
   call require(ierr, "landemu_finalize")
   if (len_trim(exports_file) > 0 .and. rank == 0) close (dump_unit)

   call write_summary(ymd)
   call MPI_Allreduce(MPI_IN_PLACE, failures, 1, MPI_INTEGER, MPI_SUM, MPI_COMM_WORLD, mpierr)
   call MPI_Finalize(mpierr)
   if (failures > 0) stop 1

contains

   !> Read &testhost from the file named on the command line (default testhost.nml).
   subroutine read_namelist()
      integer :: unit, iostat
      character(len=256) :: iomsg
      export_names(1:18) = [character(len=32) :: "LAI", "PCT_NAT_PFT", "MONTHLY_LAI", &
                            "SAI", "HTOP", "HBOT", "vegh", "rlfv", "rlfn", "tlfn", "vgcov", &
                            "cdl", "chl", "vmax0", "gradm", "binter", "effcon", "psicr"]
      namelist_file = "testhost.nml"
      if (command_argument_count() >= 1) call get_command_argument(1, namelist_file)
      open (newunit=unit, file=trim(namelist_file), status="old", action="read", &
            iostat=iostat, iomsg=iomsg)
      if (iostat /= 0) call stop_run("cannot open namelist file '" // trim(namelist_file) // &
                                     "': " // trim(iomsg))
      read (unit, nml=testhost, iostat=iostat, iomsg=iomsg)
      close (unit)
      if (iostat /= 0) call stop_run("namelist &testhost in '" // trim(namelist_file) // &
                                     "': " // trim(iomsg))
      if (coupling_seconds < 1 .or. mod(86400, max(coupling_seconds, 1)) /= 0) &
         call stop_run("namelist: coupling_seconds must divide 86400")
      if (.not. valid_date(start_ymd, start_tod, trim(calendar))) &
         call stop_run("namelist: start_ymd/start_tod/calendar is not a valid date")
      if (ndays < 1) call stop_run("namelist: ndays must be at least 1")
      nsteps = ndays * (86400 / coupling_seconds)
   end subroutine read_namelist

   !> Ask landemu which of the host's forcing fields it imports and which exports it has.
   subroutine discover_fields()
      integer :: k, n_imports, n_exports
      character(len=32) :: names(max_names + size(roundtrip_export))
      allocate (imports(size(forcing_names)), exports(size(names)))

      n_imports = 0
      do k = 1, size(forcing_names)
         call add_field(forcing_names(k), LANDEMU_FIELD_IMPORT, imports, n_imports)
      end do
      imports = imports(1:n_imports)
      names = ""
      names(1:max_names) = export_names
      names(max_names + 1:) = roundtrip_export
      n_exports = 0
      do k = 1, size(names)
         if (len_trim(names(k)) == 0) cycle
         if (any(exports(1:n_exports)%name == names(k))) cycle
         call add_field(names(k), LANDEMU_FIELD_EXPORT, exports, n_exports)
      end do
      exports = exports(1:n_exports)
      if (rank == 0) then
         write (output_unit, '(a, *(1x, a))') "landemu test host: puts", &
            (trim(imports(k)%name), k=1, size(imports))
         write (output_unit, '(a, *(1x, a))') "landemu test host: gets", &
            (trim(exports(k)%name), k=1, size(exports))
      end if
   end subroutine discover_fields

   !> Append field `name` to fields(1:n) if landemu has it in the given direction.
   subroutine add_field(name, direction, fields, n)
      character(len=*), intent(in) :: name                !! field name
      integer, intent(in) :: direction                    !! LANDEMU_FIELD_IMPORT or _EXPORT
      type(field_buffer), intent(inout) :: fields(:)      !! the list, with room for one more
      integer, intent(inout) :: n                         !! fields in the list
      integer :: field_direction, nlev, naxes, sizes(LANDEMU_MAX_AXES)
      character(len=256) :: axis_names
      call landemu_field_info(trim(name), field_direction, nlev, ierr)
      call require(ierr, "landemu_field_info")
      if (field_direction /= direction) return
      call landemu_field_axes(trim(name), naxes, sizes, axis_names, ierr)
      call require(ierr, "landemu_field_axes")
      n = n + 1
      fields(n)%name = name
      fields(n)%nlev = nlev
      if (naxes == 2) fields(n)%axes = sizes(1:2)
      if (rank == 0 .and. naxes > 0) write (output_unit, '(3a, *(1x, i0))') &
         "landemu test host: ", trim(name), " has level axes " // trim(axis_names) // ":", &
         sizes(1:naxes)
      allocate (fields(n)%values(n_local, nlev))
   end subroutine add_field

   !> Put every import for the step starting at (ymd, tod), evaluated at its middle.
   subroutine put_forcing(ymd, tod)
      integer, intent(in) :: ymd, tod
      integer :: mid_ymd, mid_tod, k
      real(real64) :: doy
      logical :: known
      mid_ymd = ymd
      mid_tod = tod
      call add_seconds(mid_ymd, mid_tod, coupling_seconds / 2, trim(calendar))
      doy = day_of_year(mid_ymd, trim(calendar)) + mid_tod / 86400.0_real64
      do k = 1, size(imports)
         call forcing(trim(imports(k)%name), lat, lon, doy, &
                      real(days_in_year(mid_ymd / 10000, trim(calendar)), real64), &
                      imports(k)%values, known)
         if (imports(k)%nlev == 1) then
            call landemu_put(trim(imports(k)%name), imports(k)%values(:, 1), ierr)
         else
            call landemu_put(trim(imports(k)%name), imports(k)%values, ierr)
         end if
         call require(ierr, "landemu_put(" // trim(imports(k)%name) // ")")
      end do
   end subroutine put_forcing

   !> Get a field with two level axes as a rank-3 array a(n_local, n1, n2) and store it as
   !  levels l = p + n1*(m-1) (the layout rule), element by element.
   subroutine get_rank3(name, axes, values)
      character(len=*), intent(in) :: name
      integer, intent(in) :: axes(2)
      real(real64), intent(out) :: values(:, :)
      real(real64), allocatable :: a(:, :, :)
      integer :: p, m
      allocate (a(n_local, axes(1), axes(2)))
      call landemu_get(name, a, ierr)
      if (ierr /= LANDEMU_OK) return
      do m = 1, axes(2)
         do p = 1, axes(1)
            values(:, p + axes(1) * (m - 1)) = a(:, p, m)
         end do
      end do
   end subroutine get_rank3

   !> Get every export and check it: finite, in its physical range, round trips equal.
   subroutine get_and_check_exports(ymd, tod)
      integer, intent(in) :: ymd, tod
      real(real64) :: lo, hi
      integer :: k, m, i, l
      character(len=64) :: when
      write (when, '(a, i8.8, a, i0)') " at ", ymd, " tod ", tod
      do k = 1, size(exports)
         associate (name => exports(k)%name, values => exports(k)%values)
            if (exports(k)%nlev == 1) then
               call landemu_get(trim(name), values(:, 1), ierr)
            else if (exports(k)%axes(1) > 0) then
               call get_rank3(trim(name), exports(k)%axes, values)
            else
               call landemu_get(trim(name), values, ierr)
            end if
            call require(ierr, "landemu_get(" // trim(name) // ")")
            call export_range(trim(name), lo, hi)
            if (.not. all(abs(values) <= huge(1.0_real64))) &
               call report(trim(name) // " has non-finite values" // trim(when))
            if (any(values < lo .or. values > hi)) &
               call report(trim(name) // " has values outside its physical range" // trim(when))
            do m = 1, size(roundtrip_export)
               if (roundtrip_export(m) /= name) cycle
               l = find_import(roundtrip_import(m))
               if (l == 0) then
                  call report("round trip " // trim(roundtrip_import(m)) // " -> " // &
                              trim(name) // ": " // trim(roundtrip_import(m)) // &
                              " is not an import of this configuration")
               else if (any(shape(imports(l)%values) /= shape(values))) then
                  call report("round trip " // trim(roundtrip_import(m)) // " -> " // &
                              trim(name) // ": the fields have different numbers of levels")
               else
                  do i = 1, n_local
                     if (any(abs(values(i, :) - imports(l)%values(i, :)) > &
                             roundtrip_tolerance * abs(imports(l)%values(i, :)))) then
                        call report("round trip " // trim(roundtrip_import(m)) // " -> " // &
                                    trim(name) // ": values differ" // trim(when))
                        exit
                     end if
                  end do
               end if
            end do
         end associate
      end do
   end subroutine get_and_check_exports

   integer function find_import(name)
      character(len=*), intent(in) :: name
      integer :: k
      find_import = 0
      do k = 1, size(imports)
         if (imports(k)%name == name) find_import = k
      end do
   end function find_import

   !> Gather the owned ids on rank 0 (for the exports file).
   subroutine gather_ids()
      integer :: r
      allocate (counts(nranks), displs(nranks))
      call MPI_Gather(n_local, 1, MPI_INTEGER, counts, 1, MPI_INTEGER, 0, MPI_COMM_WORLD, &
                      mpierr)
      displs(1) = 0
      do r = 2, nranks
         displs(r) = displs(r - 1) + counts(r - 1)
      end do
      allocate (all_ids(merge(sum(counts), 0, rank == 0)))
      call MPI_Gatherv(global_ids, n_local, MPI_INTEGER8, all_ids, counts, displs, &
                       MPI_INTEGER8, 0, MPI_COMM_WORLD, mpierr)
   end subroutine gather_ids

   !> Append the fields of the step ending at (ymd, tod) to the exports file, gathered on
   !  rank 0 in global-id order, one value per line:
   !    ymd tod put|get name id level value      (value with 17 significant digits: exact)
   !  "get" lines are the exports; "put" lines the imports the host put for that step.
   subroutine dump_exports(ymd, tod)
      integer, intent(in) :: ymd, tod
      integer :: k
      do k = 1, size(imports)
         call dump_field(ymd, tod, "put", imports(k))
      end do
      do k = 1, size(exports)
         call dump_field(ymd, tod, "get", exports(k))
      end do
   end subroutine dump_exports

   subroutine dump_field(ymd, tod, tag, field)
      integer, intent(in) :: ymd, tod
      character(len=*), intent(in) :: tag
      type(field_buffer), intent(in) :: field
      real(real64), allocatable :: gathered(:), by_id(:)
      logical, allocatable :: owned(:)
      integer :: lev, id, n_global
      n_global = merge(size(grid%mask), 0, rank == 0)
      allocate (gathered(size(all_ids)), by_id(n_global), owned(n_global))
      owned = .false.
      owned(all_ids) = .true.
      do lev = 1, field%nlev
         call MPI_Gatherv(field%values(:, lev), n_local, MPI_DOUBLE_PRECISION, gathered, &
                          counts, displs, MPI_DOUBLE_PRECISION, 0, MPI_COMM_WORLD, mpierr)
         by_id(all_ids) = gathered
         do id = 1, n_global
            if (owned(id)) write (dump_unit, '(i8.8, 1x, i5.5, 1x, a, 1x, a, 1x, i0, 1x, i0, &
                                  & 1x, es24.16e3)') ymd, tod, tag, trim(field%name), id, lev, &
                                  by_id(id)
         end do
      end do
   end subroutine dump_field

   !> Rank 0 writes (and prints) what ran and the range of every export at the end.
   subroutine write_summary(ymd)
      integer, intent(in) :: ymd
      real(real64) :: lo, hi, total
      integer :: k, unit, n_total, all_failures, u
      all_failures = failures
      call MPI_Reduce(failures, all_failures, 1, MPI_INTEGER, MPI_SUM, 0, MPI_COMM_WORLD, &
                      mpierr)
      call MPI_Reduce(n_local, n_total, 1, MPI_INTEGER, MPI_SUM, 0, MPI_COMM_WORLD, mpierr)
      if (rank == 0) open (newunit=unit, file=trim(summary_file), status="replace", &
                           action="write")
      do k = 1, size(exports)
         call MPI_Reduce(minval(exports(k)%values), lo, 1, &
                         MPI_DOUBLE_PRECISION, MPI_MIN, 0, MPI_COMM_WORLD, mpierr)
         call MPI_Reduce(maxval(exports(k)%values), hi, 1, &
                         MPI_DOUBLE_PRECISION, MPI_MAX, 0, MPI_COMM_WORLD, mpierr)
         call MPI_Reduce(sum(exports(k)%values), total, 1, MPI_DOUBLE_PRECISION, MPI_SUM, 0, &
                         MPI_COMM_WORLD, mpierr)
         if (rank /= 0) cycle
         do u = 1, 2
            write (merge(unit, output_unit, u == 1), '(a, a, i0, a, 3(es12.4), a, i8.8)') &
               "export " // trim(exports(k)%name), " (nlev ", exports(k)%nlev, &
               "): min mean max", lo, total / max(1, n_total * exports(k)%nlev), hi, &
               " at ", ymd
         end do
      end do
      if (rank /= 0) return
      do u = 1, 2
         write (merge(unit, output_unit, u == 1), '(a, i0, a, i0, a, i0, a, a)') &
            "ranks ", nranks, ", land cells ", n_total, " of ", size(grid%mask), &
            ", decomposition ", trim(decomposition)
         write (merge(unit, output_unit, u == 1), '(a, i8.8, a, i8.8, a, i0, a, i0, a)') &
            "period ", start_ymd, " to ", ymd, " (", nsteps, " steps of ", coupling_seconds, &
            " s)"
         write (merge(unit, output_unit, u == 1), '(a, i0, a, f9.3, a)') &
            "checks failed ", all_failures, ", wall time ", MPI_Wtime() - wall_start, " s"
         if (len_trim(exports_file) > 0) write (merge(unit, output_unit, u == 1), '(a, a)') &
            "exports file ", trim(exports_file)
         write (merge(unit, output_unit, u == 1), '(a, a)') "summary file ", trim(summary_file)
      end do
      close (unit)
      if (all_failures > 0) then
         write (output_unit, '(a)') "landemu test host: FAILED"
      else
         write (output_unit, '(a)') "landemu test host: OK"
      end if
   end subroutine write_summary

   !> Count a failed check and print the first few.
   subroutine report(what)
      character(len=*), intent(in) :: what
      failures = failures + 1
      reported = reported + 1
      if (reported <= max_reported) write (error_unit, '(a, i0, a, a)') &
         "landemu test host (rank ", rank, "): check failed: ", what
   end subroutine report

   !> Stop the run (non-zero exit) if a landemu call failed, with landemu's message.
   subroutine require(status, what)
      integer, intent(in) :: status
      character(len=*), intent(in) :: what
      character(len=16) :: code
      if (status == LANDEMU_OK) return
      write (code, '(i0)') status
      call stop_run(what // " failed with status " // trim(code) // ": " // &
                    landemu_last_error_message())
   end subroutine require

   !> Print a message and stop with a non-zero exit status (mpirun then ends the job).
   subroutine stop_run(text)
      character(len=*), intent(in) :: text
      write (error_unit, '(a, i0, a, a)') "landemu test host (rank ", rank, "): ", text
      flush (error_unit)
      stop 1
   end subroutine stop_run

end program landemu_testhost
