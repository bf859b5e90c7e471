!| The test host's grid and its decomposition over MPI ranks.
!
!  The host grid is either read from an E3SM domain file (xc, yc, mask, area on (nj, ni))
!  or a regular lat-lon grid described in the namelist (all land). Global cell ids are
!  1-based in file order: cell (i, j) of an ni x nj grid has id (j-1)*ni + i, j counted
!  from the first row of the file (the south for a regular grid).
!
!  The decomposition is the host's own: land cells (mask /= 0) in id order, split over the
!  ranks either in contiguous blocks or round-robin (cell k goes to rank mod(k-1, nranks)),
!  so the two hand landemu very different layouts of the same grid.
module testhost_grid
   use, intrinsic :: iso_fortran_env, only: int64, real64
   use netcdf, only: nf90_open, nf90_close, nf90_inq_dimid, nf90_inquire_dimension, &
                     nf90_inq_varid, nf90_get_var, nf90_strerror, nf90_noerr, nf90_nowrite
   implicit none
   private
   public :: host_grid, regular_grid, read_domain, decompose

   !> A host grid, every cell (land or not), flattened in global-id order.
   type host_grid
      integer :: ni = 0                         !! cells along x (longitude)
      integer :: nj = 0                         !! cells along y (latitude)
      real(real64), allocatable :: lat(:)       !! cell-centre latitude (degrees)
      real(real64), allocatable :: lon(:)       !! cell-centre longitude (degrees)
      real(real64), allocatable :: area(:)      !! cell area (steradians)
      integer, allocatable :: mask(:)           !! 1 land, 0 not part of the land model
   end type host_grid

contains

   !> A regular lat-lon grid of nlat x nlon cells between the given edges, all land.
   subroutine regular_grid(nlat, nlon, south, north, west, east, grid)
      integer, intent(in) :: nlat, nlon                  !! numbers of rows and columns
      real(real64), intent(in) :: south, north, west, east !! outer cell edges (degrees)
      type(host_grid), intent(out) :: grid               !! the grid
      real(real64), parameter :: deg = acos(-1.0_real64) / 180.0_real64
      real(real64) :: dlat, dlon
      integer :: i, j, id
      grid%ni = nlon
      grid%nj = nlat
      allocate (grid%lat(nlat * nlon), grid%lon(nlat * nlon), grid%area(nlat * nlon))
      allocate (grid%mask(nlat * nlon))
      dlat = (north - south) / nlat
      dlon = (east - west) / nlon
      do j = 1, nlat
         do i = 1, nlon
            id = (j - 1) * nlon + i
            grid%lat(id) = south + (j - 0.5_real64) * dlat
            grid%lon(id) = west + (i - 0.5_real64) * dlon
            grid%area(id) = dlon * deg * (sin((south + j * dlat) * deg) - &
                                          sin((south + (j - 1) * dlat) * deg))
         end do
      end do
      grid%mask = 1
   end subroutine regular_grid

   !> Read xc, yc, mask and area of an E3SM domain file (dims ni, nj).
   subroutine read_domain(path, grid, message)
      character(len=*), intent(in) :: path       !! domain file
      type(host_grid), intent(out) :: grid       !! the grid
      character(len=:), allocatable, intent(out) :: message !! "" on success, else the error
      real(real64), allocatable :: buf(:, :)
      integer, allocatable :: ibuf(:, :)
      integer :: ncid, status
      message = ""
      status = nf90_open(path, nf90_nowrite, ncid)
      if (status /= nf90_noerr) then
         message = "cannot open domain file '" // trim(path) // "': " // &
                   trim(nf90_strerror(status))
         return
      end if
      grid%ni = dimension_length(ncid, "ni", message)
      if (message == "") grid%nj = dimension_length(ncid, "nj", message)
      if (message == "") then
         allocate (buf(grid%ni, grid%nj), ibuf(grid%ni, grid%nj))
         call read_real(ncid, "yc", buf, message)
         grid%lat = reshape(buf, [grid%ni * grid%nj])
      end if
      if (message == "") then
         call read_real(ncid, "xc", buf, message)
         grid%lon = reshape(buf, [grid%ni * grid%nj])
      end if
      if (message == "") then
         call read_real(ncid, "area", buf, message)
         grid%area = reshape(buf, [grid%ni * grid%nj])
      end if
      if (message == "") then
         call read_int(ncid, "mask", ibuf, message)
         grid%mask = reshape(ibuf, [grid%ni * grid%nj])
      end if
      status = nf90_close(ncid)
      if (message /= "") message = "domain file '" // trim(path) // "': " // message
   end subroutine read_domain

   integer function dimension_length(ncid, name, message)
      integer, intent(in) :: ncid
      character(len=*), intent(in) :: name
      character(len=:), allocatable, intent(inout) :: message
      integer :: dimid
      dimension_length = 0
      if (nf90_inq_dimid(ncid, name, dimid) /= nf90_noerr) then
         message = "no dimension '" // name // "' (an E3SM domain file has ni, nj)"
      else if (nf90_inquire_dimension(ncid, dimid, len=dimension_length) /= nf90_noerr) then
         message = "cannot read dimension '" // name // "'"
      end if
   end function dimension_length

   subroutine read_real(ncid, name, values, message)
      integer, intent(in) :: ncid
      character(len=*), intent(in) :: name
      real(real64), intent(out) :: values(:, :)
      character(len=:), allocatable, intent(inout) :: message
      integer :: varid, status
      status = nf90_inq_varid(ncid, name, varid)
      if (status == nf90_noerr) status = nf90_get_var(ncid, varid, values)
      if (status /= nf90_noerr) &
         message = "cannot read variable '" // name // "': " // trim(nf90_strerror(status))
   end subroutine read_real

   subroutine read_int(ncid, name, values, message)
      integer, intent(in) :: ncid
      character(len=*), intent(in) :: name
      integer, intent(out) :: values(:, :)
      character(len=:), allocatable, intent(inout) :: message
      integer :: varid, status
      status = nf90_inq_varid(ncid, name, varid)
      if (status == nf90_noerr) status = nf90_get_var(ncid, varid, values)
      if (status /= nf90_noerr) &
         message = "cannot read variable '" // name // "': " // trim(nf90_strerror(status))
   end subroutine read_int

   !> This rank's land cells: 1-based global ids, by 'block' or 'roundrobin'.
   subroutine decompose(grid, method, rank, nranks, global_ids, message)
      type(host_grid), intent(in) :: grid                !! the host grid
      character(len=*), intent(in) :: method             !! 'block' or 'roundrobin'
      integer, intent(in) :: rank, nranks                !! this rank (0-based), rank count
      integer(int64), allocatable, intent(out) :: global_ids(:) !! owned ids, ascending
      character(len=:), allocatable, intent(out) :: message     !! "" or the error
      integer(int64), allocatable :: land(:)
      integer :: n_land, first, last, k
      message = ""
      land = pack([(int(k, int64), k=1, size(grid%mask))], grid%mask /= 0)
      n_land = size(land)
      select case (method)
      case ("block")
         ! Rank r owns land cells first..last: sizes differ by at most one.
         first = int(int(rank, int64) * n_land / nranks) + 1
         last = int(int(rank + 1, int64) * n_land / nranks)
         global_ids = land(first:last)
      case ("roundrobin")
         global_ids = land(rank + 1::nranks)
      case default
         message = "decomposition = '" // trim(method) // "' is not 'block' or 'roundrobin'"
         allocate (global_ids(0))
      end select
   end subroutine decompose

end module testhost_grid
