!> An E3SM domain file and the decomposition of its active cells over MPI ranks: what the
!! Fortran test host (testhost/) and the host land model program (hostmodel/program/) share.
!!
!! Global cell ids are 1-based in file order: cell (i, j), 0-based, of an ni x nj domain has
!! id j*ni + i + 1. The decomposition is deterministic: active cells (mask /= 0) in id
!! order, split over the ranks in contiguous blocks (sizes differ by at most one) or dealt
!! round-robin (the k-th active cell goes to rank mod(k-1, nranks)).
!! Errors come back as messages naming the file and what is wrong, never as `stop`.
module host_domain
  use, intrinsic :: iso_fortran_env, only: int64, real64
  use netcdf, only: nf90_open, nf90_close, nf90_inq_dimid, nf90_inquire_dimension, &
                    nf90_inq_varid, nf90_get_var, nf90_strerror, nf90_noerr, nf90_nowrite
  implicit none
  private

  !> An E3SM domain: every cell (active or not), flattened in global-id order.
  type, public :: e3sm_domain
    integer :: ni = 0                       !! cells along x (longitude)
    integer :: nj = 0                       !! cells along y (latitude)
    real(real64), allocatable :: lat(:)     !! cell-centre latitude, yc (degrees)
    real(real64), allocatable :: lon(:)     !! cell-centre longitude, xc (degrees)
    real(real64), allocatable :: area(:)    !! cell area (steradians)
    integer, allocatable :: mask(:)         !! /= 0 active (land), 0 not simulated
    real(real64), allocatable :: frac(:)    !! land fraction; not allocated if the file has none
  end type e3sm_domain

  public :: read_e3sm_domain, decompose_cells

contains

  !> Read dims ni, nj and variables xc, yc, mask, area (and frac, if present) of an E3SM
  !! domain file.
  subroutine read_e3sm_domain(path, dom, message)
    character(len=*), intent(in) :: path                   !! domain file
    type(e3sm_domain), intent(out) :: dom                  !! the domain
    character(len=:), allocatable, intent(out) :: message  !! "" on success, else the error
    integer :: ncid, status, varid
    message = ""
    status = nf90_open(path, nf90_nowrite, ncid)
    if (status /= nf90_noerr) then
      message = "cannot open domain file '"//trim(path)//"': "//trim(nf90_strerror(status))
      return
    end if
    dom%ni = dimension_length(ncid, "ni", message)
    if (message == "") dom%nj = dimension_length(ncid, "nj", message)
    if (message == "") call read_variable(ncid, "yc", dom%ni, dom%nj, message, reals=dom%lat)
    if (message == "") call read_variable(ncid, "xc", dom%ni, dom%nj, message, reals=dom%lon)
    if (message == "") call read_variable(ncid, "area", dom%ni, dom%nj, message, reals=dom%area)
    if (message == "") call read_variable(ncid, "mask", dom%ni, dom%nj, message, ints=dom%mask)
    if (message == "") then
      if (nf90_inq_varid(ncid, "frac", varid) == nf90_noerr) &
        call read_variable(ncid, "frac", dom%ni, dom%nj, message, reals=dom%frac)
    end if
    status = nf90_close(ncid)
    if (message /= "") message = "domain file '"//trim(path)//"': "//message
  end subroutine read_e3sm_domain

  !> This rank's active cells (mask /= 0): their 1-based global ids, ascending, by 'block'
  !! or 'roundrobin'.
  subroutine decompose_cells(mask, method, rank, nranks, ids, message)
    integer, intent(in) :: mask(:)                         !! every cell's mask, id order
    character(len=*), intent(in) :: method                 !! 'block' or 'roundrobin'
    integer, intent(in) :: rank                            !! this rank, 0-based
    integer, intent(in) :: nranks                          !! number of ranks
    integer(int64), allocatable, intent(out) :: ids(:)     !! owned ids, ascending
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer(int64), allocatable :: active(:)
    integer :: n_active, first, last, k
    message = ""
    active = pack([(int(k, int64), k=1, size(mask))], mask /= 0)
    n_active = size(active)
    select case (method)
    case ("block")
      ! Rank r owns active cells first..last: sizes differ by at most one.
      first = int(int(rank, int64) * n_active / nranks) + 1
      last = int(int(rank + 1, int64) * n_active / nranks)
      ids = active(first:last)
    case ("roundrobin")
      ids = active(rank + 1::nranks)
    case default
      message = "decomposition = '"//trim(method)//"' is not 'block' or 'roundrobin'"
      allocate (ids(0))
    end select
  end subroutine decompose_cells

  !> Length of dimension `name`; sets message if the file has no such dimension.
  integer function dimension_length(ncid, name, message)
    integer, intent(in) :: ncid                              !! open netCDF file
    character(len=*), intent(in) :: name                     !! dimension name
    character(len=:), allocatable, intent(inout) :: message  !! set on failure
    integer :: dimid
    dimension_length = 0
    if (nf90_inq_dimid(ncid, name, dimid) /= nf90_noerr) then
      message = "no dimension '"//name//"' (an E3SM domain file has ni, nj)"
    else if (nf90_inquire_dimension(ncid, dimid, len=dimension_length) /= nf90_noerr) then
      message = "cannot read dimension '"//name//"'"
    end if
  end function dimension_length

  !> Read the (nj, ni) variable `name` into reals or ints (pass exactly one), flattened in
  !! global-id order; sets message (and leaves the output unallocated) on failure.
  subroutine read_variable(ncid, name, ni, nj, message, reals, ints)
    integer, intent(in) :: ncid                              !! open netCDF file
    character(len=*), intent(in) :: name                     !! variable name
    integer, intent(in) :: ni, nj                            !! domain dimensions
    character(len=:), allocatable, intent(inout) :: message  !! set on failure
    real(real64), allocatable, intent(out), optional :: reals(:)  !! a real variable
    integer, allocatable, intent(out), optional :: ints(:)        !! an integer variable
    real(real64), allocatable :: rbuf(:, :)
    integer, allocatable :: ibuf(:, :)
    integer :: varid, status
    status = nf90_inq_varid(ncid, name, varid)
    if (present(reals)) then
      allocate (rbuf(ni, nj))
      if (status == nf90_noerr) status = nf90_get_var(ncid, varid, rbuf)
      if (status == nf90_noerr) reals = reshape(rbuf, [ni * nj])
    else if (present(ints)) then
      allocate (ibuf(ni, nj))
      if (status == nf90_noerr) status = nf90_get_var(ncid, varid, ibuf)
      if (status == nf90_noerr) ints = reshape(ibuf, [ni * nj])
    end if
    if (status /= nf90_noerr) &
      message = "cannot read variable '"//name//"': "//trim(nf90_strerror(status))
  end subroutine read_variable

end module host_domain
