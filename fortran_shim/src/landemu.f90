!| The `landemu` Fortran module: a land model's interface to landemu.
!
!  landemu runs machine-learning emulators of land-surface boundary conditions inside a
!  running land model. This module wraps the C API of `liblandemu.so` (see landemu.h) with
!  Fortran habits: assumed-shape arrays, `character(*)` names and an optional `ierr`.
!
!  Call order, per MPI rank (collective calls involve every rank of the communicator):
!
!    call landemu_init(comm, "landemu.yaml")            ! collective
!    call landemu_set_decomposition(my_global_ids)      ! collective, 1-based ids
!    do each coupling step
!       call landemu_put("TBOT", tbot)                  ! tbot(n_local)
!       call landemu_put("H2OSOI", h2osoi)              ! h2osoi(n_local, nlev)
!       call landemu_advance(ymd, tod)                  ! collective
!       call landemu_get("LAI", lai)                    ! lai(n_local)
!    end do
!    call landemu_write_restart()                       ! collective, optional
!    call landemu_finalize()                            ! collective
!
!  Layout: a Fortran array `a(n_local, nlev)` is the C array `a[nlev][n_local]`; level k of
!  cell i is what landemu sees as row k, column i. A field with two named level axes
!  (landemu_field_axes, e.g. pft: 17, month: 12) is `a(n_local, 17, 12)`, the C array
!  `a[12][17][n_local]`; an array with its axes swapped is an error, never transposed. Arrays cross zero-copy: landemu reads
!  (put) or writes (get) the host's memory during the call and keeps no pointer to it. A
!  non-contiguous array section is rejected with an error rather than copied silently (pass
!  a contiguous array, or copy the section into one yourself).
!
!  Errors: every routine takes an optional `ierr`. When present, it receives the status
!  (LANDEMU_OK = 0 on success, one of the LANDEMU_ERR_* codes otherwise) and the host
!  decides what to do; `landemu_last_error_message()` gives the message. When absent and the
!  call fails, the message is printed to the error unit and the routine returns: landemu
!  never stops the host by itself (unless its configuration says `on_error: abort`).
!
!  landemu is one instance per process, so there is no handle to carry around. The module
!  does not depend on an MPI Fortran module: pass the communicator as the default-integer
!  handle (`MPI_COMM_WORLD` from `use mpi`, or `comm%MPI_VAL` from `use mpi_f08`).
module landemu
   use, intrinsic :: iso_c_binding, only: c_char, c_double, c_int, c_int32_t, c_int64_t, &
                                          c_loc, c_null_char, c_null_ptr, c_ptr
   use, intrinsic :: iso_fortran_env, only: error_unit
   implicit none
   private

   ! Status values (identical to landemu.h).
   integer, parameter, public :: LANDEMU_OK = 0              !! success
   integer, parameter, public :: LANDEMU_ERR = 1             !! generic, fixable by the user
   integer, parameter, public :: LANDEMU_ERR_CONFIG = 2      !! YAML configuration key
   integer, parameter, public :: LANDEMU_ERR_CALL_ORDER = 3  !! a call out of order
   integer, parameter, public :: LANDEMU_ERR_FIELD = 4       !! unknown field, size, NaN, range
   integer, parameter, public :: LANDEMU_ERR_GRID = 5        !! grid/domain file, decomposition
   integer, parameter, public :: LANDEMU_ERR_REGRID = 6      !! weight/map file
   integer, parameter, public :: LANDEMU_ERR_MODEL = 7       !! ONNX model file
   integer, parameter, public :: LANDEMU_ERR_DATA_FILE = 8   !! data or restart file
   integer, parameter, public :: LANDEMU_ERR_RUNTIME = 9     !! failure while stepping
   integer, parameter, public :: LANDEMU_ERR_PYTHON = 98     !! embedded Python did not start
   integer, parameter, public :: LANDEMU_ERR_INTERNAL = 99   !! a bug in landemu

   ! Field directions (landemu_field_info).
   integer, parameter, public :: LANDEMU_FIELD_NONE = 0      !! not a field of this run
   integer, parameter, public :: LANDEMU_FIELD_IMPORT = 1    !! the host puts it
   integer, parameter, public :: LANDEMU_FIELD_EXPORT = 2    !! the host gets it

   public :: landemu_init, landemu_set_decomposition, landemu_put, landemu_advance, &
             landemu_get, landemu_field_info, landemu_field_axes, landemu_write_restart, &
             landemu_finalize, landemu_last_error_message

   integer, parameter, public :: LANDEMU_MAX_AXES = 4        !! most level axes of a field

   !> Hand landemu an import field: `values(n_local)` or `values(n_local, nlev)`.
   interface landemu_put
      module procedure landemu_put_1d, landemu_put_2d, landemu_put_3d
   end interface landemu_put

   !> Fill the host's array with an export field: `values(n_local)` or `values(n_local, nlev)`.
   interface landemu_get
      module procedure landemu_get_1d, landemu_get_2d, landemu_get_3d
   end interface landemu_get

   !> Tell landemu which global cells this rank owns (1-based ids, 4- or 8-byte integers).
   interface landemu_set_decomposition
      module procedure landemu_set_decomposition_i8, landemu_set_decomposition_i4
   end interface landemu_set_decomposition

   ! A failure found in this module before reaching the C library (e.g. a non-contiguous
   ! section); `local_error_is_latest` says whether it is more recent than the library's.
   character(len=:), allocatable :: local_error
   logical :: local_error_is_latest = .false.

contains

   !> Start landemu on the host's communicator. Collective.
   subroutine landemu_init(comm, config_path, ierr)
      integer, intent(in) :: comm                 !! host communicator (MPI_Fint handle)
      character(len=*), intent(in) :: config_path !! path of landemu's YAML configuration
      integer, intent(out), optional :: ierr      !! status (LANDEMU_OK on success)
      interface
         function c_landemu_init(fcomm, path) result(status) bind(c, name="landemu_init")
            import :: c_char, c_int, c_int32_t
            integer(c_int32_t), value :: fcomm
            character(kind=c_char), dimension(*), intent(in) :: path
            integer(c_int) :: status
         end function c_landemu_init
      end interface
      call finish(int(c_landemu_init(int(comm, c_int32_t), c_string(config_path))), ierr)
   end subroutine landemu_init

   !> Set this rank's cells from 8-byte ids (copied; any order). Collective.
   subroutine landemu_set_decomposition_i8(global_ids, ierr)
      integer(c_int64_t), intent(in), target :: global_ids(:) !! 1-based global cell ids
      integer, intent(out), optional :: ierr                  !! status
      interface
         function c_landemu_set_decomposition(ids, n_local) result(status) &
            bind(c, name="landemu_set_decomposition")
            import :: c_int, c_int64_t, c_ptr
            type(c_ptr), value :: ids
            integer(c_int64_t), value :: n_local
            integer(c_int) :: status
         end function c_landemu_set_decomposition
      end interface
      type(c_ptr) :: ids
      if (.not. is_contiguous(global_ids)) then
         call fail_locally("landemu_set_decomposition", "global_ids is a non-contiguous " // &
                           "array section; pass a contiguous array", ierr)
         return
      end if
      ids = c_null_ptr
      if (size(global_ids) > 0) ids = c_loc(global_ids)
      call finish(int(c_landemu_set_decomposition(ids, &
                  int(size(global_ids), c_int64_t))), ierr)
   end subroutine landemu_set_decomposition_i8

   !> Set this rank's cells from default-integer ids (converted to 8 bytes). Collective.
   subroutine landemu_set_decomposition_i4(global_ids, ierr)
      integer, intent(in) :: global_ids(:)    !! 1-based global cell ids
      integer, intent(out), optional :: ierr  !! status
      integer(c_int64_t), allocatable :: ids(:)
      allocate (ids(size(global_ids)))
      ids(:) = int(global_ids, c_int64_t)
      call landemu_set_decomposition_i8(ids, ierr)
   end subroutine landemu_set_decomposition_i4

   !> Put a single-level import field, `values(n_local)`.
   subroutine landemu_put_1d(name, values, ierr)
      character(len=*), intent(in) :: name                !! field name, e.g. "TBOT"
      real(c_double), intent(in), target :: values(:)     !! one value per local cell
      integer, intent(out), optional :: ierr              !! status
      if (.not. is_contiguous(values)) then
         call fail_locally("landemu_put", non_contiguous(name), ierr)
         return
      end if
      call put_raw(name, address_of_1d(values), size(values), 1, ierr)
   end subroutine landemu_put_1d

   !> Put a multi-level import field, `values(n_local, nlev)` (C layout [nlev][n_local]).
   subroutine landemu_put_2d(name, values, ierr)
      character(len=*), intent(in) :: name                !! field name, e.g. "H2OSOI"
      real(c_double), intent(in), target :: values(:, :)  !! (local cell, level)
      integer, intent(out), optional :: ierr              !! status
      if (.not. is_contiguous(values)) then
         call fail_locally("landemu_put", non_contiguous(name), ierr)
         return
      end if
      call put_raw(name, address_of_2d(values), size(values, 1), size(values, 2), ierr)
   end subroutine landemu_put_2d

   !> Put a field with two level axes, `values(n_local, n1, n2)` (C layout [n2][n1][n_local]).
   subroutine landemu_put_3d(name, values, ierr)
      character(len=*), intent(in) :: name                   !! field name
      real(c_double), intent(in), target :: values(:, :, :)  !! (local cell, axis 1, axis 2)
      integer, intent(out), optional :: ierr                 !! status
      if (.not. is_contiguous(values)) then
         call fail_locally("landemu_put", non_contiguous(name), ierr)
         return
      end if
      call axes_raw("landemu_put_axes", name, address_of_3d(values), shape(values), ierr)
   end subroutine landemu_put_3d

   !> Advance landemu to a model time: run what is due, fill the exports. Collective.
   subroutine landemu_advance(ymd, tod, ierr)
      integer, intent(in) :: ymd             !! date as yyyymmdd (configured calendar)
      integer, intent(in) :: tod             !! seconds since midnight, 0..86399
      integer, intent(out), optional :: ierr !! status
      interface
         function c_landemu_advance(ymd, tod) result(status) bind(c, name="landemu_advance")
            import :: c_int, c_int32_t
            integer(c_int32_t), value :: ymd, tod
            integer(c_int) :: status
         end function c_landemu_advance
      end interface
      call finish(int(c_landemu_advance(int(ymd, c_int32_t), int(tod, c_int32_t))), ierr)
   end subroutine landemu_advance

   !> Get a single-level export field into `values(n_local)`.
   subroutine landemu_get_1d(name, values, ierr)
      character(len=*), intent(in) :: name                 !! field name, e.g. "LAI"
      real(c_double), intent(inout), target :: values(:)   !! filled, one value per cell
      integer, intent(out), optional :: ierr               !! status
      if (.not. is_contiguous(values)) then
         call fail_locally("landemu_get", non_contiguous(name), ierr)
         return
      end if
      call get_raw(name, address_of_1d(values), size(values), 1, ierr)
   end subroutine landemu_get_1d

   !> Get a multi-level export field into `values(n_local, nlev)`.
   subroutine landemu_get_2d(name, values, ierr)
      character(len=*), intent(in) :: name                  !! field name, e.g. "PCT_NAT_PFT"
      real(c_double), intent(inout), target :: values(:, :) !! filled, (local cell, level)
      integer, intent(out), optional :: ierr                !! status
      if (.not. is_contiguous(values)) then
         call fail_locally("landemu_get", non_contiguous(name), ierr)
         return
      end if
      call get_raw(name, address_of_2d(values), size(values, 1), size(values, 2), ierr)
   end subroutine landemu_get_2d

   !> Get a field with two level axes into `values(n_local, n1, n2)`.
   subroutine landemu_get_3d(name, values, ierr)
      character(len=*), intent(in) :: name                      !! field name, e.g. "MONTHLY_LAI"
      real(c_double), intent(inout), target :: values(:, :, :)  !! (local cell, axis 1, axis 2)
      integer, intent(out), optional :: ierr                    !! status
      if (.not. is_contiguous(values)) then
         call fail_locally("landemu_get", non_contiguous(name), ierr)
         return
      end if
      call axes_raw("landemu_get_axes", name, address_of_3d(values), shape(values), ierr)
   end subroutine landemu_get_3d

   !> The named level axes of a field: how many, their sizes and their names ("pft,month"),
   !  in the order of the Fortran array's dimensions after the cell dimension.
   subroutine landemu_field_axes(name, naxes, sizes, names, ierr)
      character(len=*), intent(in) :: name     !! field name
      integer, intent(out) :: naxes            !! number of named axes (0: none)
      integer, intent(out) :: sizes(LANDEMU_MAX_AXES) !! sizes(1:naxes) the axis sizes
      character(len=*), intent(out) :: names   !! the axis names joined by commas
      integer, intent(out), optional :: ierr   !! status
      interface
         function c_landemu_field_axes(name, naxes, sizes, names, names_len) result(status) &
            bind(c, name="landemu_field_axes")
            import :: c_char, c_int, c_int32_t, c_int64_t
            character(kind=c_char), dimension(*), intent(in) :: name
            integer(c_int32_t), intent(out) :: naxes
            integer(c_int64_t), intent(out) :: sizes(*)
            character(kind=c_char), dimension(*), intent(out) :: names
            integer(c_int64_t), value :: names_len
            integer(c_int) :: status
         end function c_landemu_field_axes
      end interface
      integer(c_int32_t) :: c_naxes
      integer(c_int64_t) :: c_sizes(LANDEMU_MAX_AXES)
      character(kind=c_char) :: c_names(len(names) + 1)
      integer :: k
      c_naxes = 0
      c_sizes = 0
      c_names = c_null_char
      call finish(int(c_landemu_field_axes(c_string(name), c_naxes, c_sizes, c_names, &
                                           int(size(c_names), c_int64_t))), ierr)
      naxes = int(c_naxes)
      sizes = int(c_sizes)
      names = ""
      do k = 1, len(names)
         if (c_names(k) == c_null_char) exit
         names(k:k) = c_names(k)
      end do
   end subroutine landemu_field_axes

   !> What landemu knows about a field: direction (LANDEMU_FIELD_*) and number of levels.
   !  A name that is not a field of this run is not an error: direction = LANDEMU_FIELD_NONE.
   subroutine landemu_field_info(name, direction, nlev, ierr)
      character(len=*), intent(in) :: name    !! field name
      integer, intent(out) :: direction       !! LANDEMU_FIELD_NONE, _IMPORT or _EXPORT
      integer, intent(out) :: nlev            !! number of levels (0 if not a field)
      integer, intent(out), optional :: ierr  !! status
      interface
         function c_landemu_field_info(name, direction, nlev) result(status) &
            bind(c, name="landemu_field_info")
            import :: c_char, c_int, c_int32_t, c_int64_t
            character(kind=c_char), dimension(*), intent(in) :: name
            integer(c_int32_t), intent(out) :: direction
            integer(c_int64_t), intent(out) :: nlev
            integer(c_int) :: status
         end function c_landemu_field_info
      end interface
      integer(c_int32_t) :: c_direction
      integer(c_int64_t) :: c_nlev
      c_direction = LANDEMU_FIELD_NONE
      c_nlev = 0
      call finish(int(c_landemu_field_info(c_string(name), c_direction, c_nlev)), ierr)
      direction = int(c_direction)
      nlev = int(c_nlev)
   end subroutine landemu_field_info

   !> Write a restart file (netCDF). Without `path`: the configuration's default name.
   !  Collective.
   subroutine landemu_write_restart(path, ierr)
      character(len=*), intent(in), optional :: path !! restart file path
      integer, intent(out), optional :: ierr          !! status
      interface
         function c_landemu_write_restart(path) result(status) &
            bind(c, name="landemu_write_restart")
            import :: c_char, c_int
            character(kind=c_char), dimension(*), intent(in) :: path
            integer(c_int) :: status
         end function c_landemu_write_restart
      end interface
      if (present(path)) then
         call finish(int(c_landemu_write_restart(c_string(path))), ierr)
      else
         call finish(int(c_landemu_write_restart(c_null_char)), ierr)
      end if
   end subroutine landemu_write_restart

   !> Finish: flush output, report timers, release landemu's state (MPI stays). Collective.
   subroutine landemu_finalize(ierr)
      integer, intent(out), optional :: ierr !! status
      interface
         function c_landemu_finalize() result(status) bind(c, name="landemu_finalize")
            import :: c_int
            integer(c_int) :: status
         end function c_landemu_finalize
      end interface
      call finish(int(c_landemu_finalize()), ierr)
   end subroutine landemu_finalize

   !> The message of the most recent failing landemu call on this process ("" if none).
   function landemu_last_error_message() result(message)
      character(len=:), allocatable :: message !! the message, without trailing blanks
      interface
         function c_landemu_last_error(buf, buflen) result(status) &
            bind(c, name="landemu_last_error")
            import :: c_char, c_int, c_int64_t
            character(kind=c_char), dimension(*), intent(out) :: buf
            integer(c_int64_t), value :: buflen
            integer(c_int) :: status
         end function c_landemu_last_error
      end interface
      integer, parameter :: buflen = 4096
      character(kind=c_char) :: buf(buflen)
      integer :: n
      if (local_error_is_latest) then
         message = local_error
         return
      end if
      buf = c_null_char
      if (c_landemu_last_error(buf, int(buflen, c_int64_t)) /= LANDEMU_OK) then
         message = "landemu: could not read the error message"
         return
      end if
      n = 0
      do while (n < buflen)
         if (buf(n + 1) == c_null_char) exit
         n = n + 1
      end do
      allocate (character(len=n) :: message)
      message = transfer(buf(1:n), message)
   end function landemu_last_error_message

   ! ---- private helpers -----------------------------------------------------------------

   !> Pass a put to the C library.
   subroutine put_raw(name, values, n_local, nlev, ierr)
      character(len=*), intent(in) :: name
      type(c_ptr), intent(in) :: values
      integer, intent(in) :: n_local, nlev
      integer, intent(out), optional :: ierr
      interface
         function c_landemu_put(name, values, n_local, nlev) result(status) &
            bind(c, name="landemu_put")
            import :: c_char, c_int, c_int64_t, c_ptr
            character(kind=c_char), dimension(*), intent(in) :: name
            type(c_ptr), value :: values
            integer(c_int64_t), value :: n_local, nlev
            integer(c_int) :: status
         end function c_landemu_put
      end interface
      call finish(int(c_landemu_put(c_string(name), values, &
                  int(n_local, c_int64_t), int(nlev, c_int64_t))), ierr)
   end subroutine put_raw

   !> Pass a get to the C library.
   subroutine get_raw(name, values, n_local, nlev, ierr)
      character(len=*), intent(in) :: name
      type(c_ptr), intent(in) :: values
      integer, intent(in) :: n_local, nlev
      integer, intent(out), optional :: ierr
      interface
         function c_landemu_get(name, values, n_local, nlev) result(status) &
            bind(c, name="landemu_get")
            import :: c_char, c_int, c_int64_t, c_ptr
            character(kind=c_char), dimension(*), intent(in) :: name
            type(c_ptr), value :: values
            integer(c_int64_t), value :: n_local, nlev
            integer(c_int) :: status
         end function c_landemu_get
      end interface
      call finish(int(c_landemu_get(c_string(name), values, &
                  int(n_local, c_int64_t), int(nlev, c_int64_t))), ierr)
   end subroutine get_raw

   !> Pass a rank-3 put or get (landemu_put_axes / landemu_get_axes) to the C library.
   subroutine axes_raw(entry, name, values, extents, ierr)
      character(len=*), intent(in) :: entry   !! "landemu_put_axes" or "landemu_get_axes"
      character(len=*), intent(in) :: name
      type(c_ptr), intent(in) :: values
      integer, intent(in) :: extents(3)       !! (n_local, n1, n2)
      integer, intent(out), optional :: ierr
      interface
         function c_landemu_put_axes(name, values, n_local, n1, n2) result(status) &
            bind(c, name="landemu_put_axes")
            import :: c_char, c_int, c_int64_t, c_ptr
            character(kind=c_char), dimension(*), intent(in) :: name
            type(c_ptr), value :: values
            integer(c_int64_t), value :: n_local, n1, n2
            integer(c_int) :: status
         end function c_landemu_put_axes
         function c_landemu_get_axes(name, values, n_local, n1, n2) result(status) &
            bind(c, name="landemu_get_axes")
            import :: c_char, c_int, c_int64_t, c_ptr
            character(kind=c_char), dimension(*), intent(in) :: name
            type(c_ptr), value :: values
            integer(c_int64_t), value :: n_local, n1, n2
            integer(c_int) :: status
         end function c_landemu_get_axes
      end interface
      integer(c_int64_t) :: n(3)
      n = int(extents, c_int64_t)
      if (entry == "landemu_put_axes") then
         call finish(int(c_landemu_put_axes(c_string(name), values, n(1), n(2), n(3))), ierr)
      else
         call finish(int(c_landemu_get_axes(c_string(name), values, n(1), n(2), n(3))), ierr)
      end if
   end subroutine axes_raw

   !> Address of a contiguous rank-1 array (C NULL when empty: c_loc needs an element).
   function address_of_1d(values) result(address)
      real(c_double), intent(in), target :: values(:)
      type(c_ptr) :: address
      address = c_null_ptr
      if (size(values) > 0) address = c_loc(values)
   end function address_of_1d

   !> Address of a contiguous rank-2 array (C NULL when empty).
   function address_of_2d(values) result(address)
      real(c_double), intent(in), target :: values(:, :)
      type(c_ptr) :: address
      address = c_null_ptr
      if (size(values) > 0) address = c_loc(values)
   end function address_of_2d

   !> Address of a contiguous rank-3 array (C NULL when empty).
   function address_of_3d(values) result(address)
      real(c_double), intent(in), target :: values(:, :, :)
      type(c_ptr) :: address
      address = c_null_ptr
      if (size(values) > 0) address = c_loc(values)
   end function address_of_3d

   !> A Fortran string as a NUL-terminated C string (trailing and leading blanks dropped).
   pure function c_string(text) result(c_text)
      character(len=*), intent(in) :: text
      character(kind=c_char, len=:), allocatable :: c_text
      c_text = trim(adjustl(text)) // c_null_char
   end function c_string

   !> The message for a non-contiguous array argument.
   pure function non_contiguous(name) result(message)
      character(len=*), intent(in) :: name
      character(len=:), allocatable :: message
      message = "field '" // trim(adjustl(name)) // "': the array is a non-contiguous " // &
                "section; landemu passes arrays zero-copy, so pass a contiguous array " // &
                "(e.g. copy the section into one)"
   end function non_contiguous

   !> Hand a status to the caller: into ierr, or printed with its message when ierr is absent.
   subroutine finish(status, ierr)
      integer, intent(in) :: status
      integer, intent(out), optional :: ierr
      if (status /= LANDEMU_OK) local_error_is_latest = .false.
      if (present(ierr)) then
         ierr = status
      else if (status /= LANDEMU_OK) then
         write (error_unit, '(a, i0, a)') "landemu error (status ", status, &
            "): " // landemu_last_error_message()
         flush (error_unit)
      end if
   end subroutine finish

   !> Report a failure found in this module (status LANDEMU_ERR_FIELD).
   subroutine fail_locally(caller, message, ierr)
      character(len=*), intent(in) :: caller, message
      integer, intent(out), optional :: ierr
      local_error = caller // ": " // message
      local_error_is_latest = .true.
      if (present(ierr)) then
         ierr = LANDEMU_ERR_FIELD
      else
         write (error_unit, '(a, i0, a)') "landemu error (status ", LANDEMU_ERR_FIELD, &
            "): " // local_error
         flush (error_unit)
      end if
   end subroutine fail_locally

end module landemu
