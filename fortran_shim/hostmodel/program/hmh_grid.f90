!> The host program's grid (an E3SM domain file) and its decomposition over MPI ranks.
!!
!! Global cell ids are 1-based in file order: cell (i, j) of an ni x nj domain has id
!! (j-1) ni + i. Only land cells (mask /= 0) are columns of the land model. The
!! decomposition is deterministic: land cells in id order, split into contiguous blocks
!! (sizes differ by at most one) or dealt round-robin; each column's physics does not depend
!! on where it runs, so results are bit-for-bit identical on any number of ranks.
module hmh_grid
  use, intrinsic :: iso_fortran_env, only: int64, real64
  use netcdf
  implicit none
  private

  !> The domain: every cell, flattened in global-id order.
  type, public :: domain_t
    character(len=:), allocatable :: path   !! file it came from
    integer :: ni = 0                       !! cells along x
    integer :: nj = 0                       !! cells along y
    integer :: n = 0                        !! ni * nj
    integer :: n_land = 0                   !! cells with mask /= 0
    real(real64), allocatable :: lat(:)     !! centre latitude (degrees)
    real(real64), allocatable :: lon(:)     !! centre longitude (degrees)
    real(real64), allocatable :: area(:)    !! area (steradians)
    integer, allocatable :: mask(:)         !! 1 land, 0 not simulated
    integer, allocatable :: land_index(:)   !! position among the land cells (0 for others)
  end type domain_t

  public :: read_domain, decompose

contains

  !> Read ni, nj, xc, yc, mask and area of an E3SM domain file.
  subroutine read_domain(path, dom, message)
    character(len=*), intent(in) :: path                   !! domain file
    type(domain_t), intent(out) :: dom                     !! the domain
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer :: ncid, st, k
    real(real64), allocatable :: buf(:, :)
    integer, allocatable :: ibuf(:, :)
    message = ""
    dom%path = path
    st = nf90_open(path, nf90_nowrite, ncid)
    if (st /= nf90_noerr) then
      message = "cannot open domain file '"//path//"': "//trim(nf90_strerror(st))
      return
    end if
    dom%ni = dim_len(ncid, 'ni', message)
    if (message == "") dom%nj = dim_len(ncid, 'nj', message)
    if (message == "") then
      allocate (buf(dom%ni, dom%nj), ibuf(dom%ni, dom%nj))
      call get_real(ncid, 'yc', buf, message)
      dom%lat = reshape(buf, [dom%ni * dom%nj])
    end if
    if (message == "") then
      call get_real(ncid, 'xc', buf, message)
      dom%lon = reshape(buf, [dom%ni * dom%nj])
    end if
    if (message == "") then
      call get_real(ncid, 'area', buf, message)
      dom%area = reshape(buf, [dom%ni * dom%nj])
    end if
    if (message == "") then
      st = nf90_inq_varid(ncid, 'mask', k)
      if (st == nf90_noerr) st = nf90_get_var(ncid, k, ibuf)
      if (st /= nf90_noerr) message = "cannot read variable 'mask': "//trim(nf90_strerror(st))
      if (message == "") dom%mask = reshape(ibuf, [dom%ni * dom%nj])
    end if
    st = nf90_close(ncid)
    if (message /= "") then
      message = "domain file '"//path//"': "//message
      return
    end if
    dom%n = dom%ni * dom%nj
    allocate (dom%land_index(dom%n))
    dom%n_land = 0
    do k = 1, dom%n
      if (dom%mask(k) /= 0) then
        dom%n_land = dom%n_land + 1
        dom%land_index(k) = dom%n_land
      else
        dom%land_index(k) = 0
      end if
    end do
    if (dom%n_land == 0) message = "domain file '"//path//"' has no land cell (mask /= 0)"
  end subroutine read_domain

  integer function dim_len(ncid, name, message)
    integer, intent(in) :: ncid
    character(len=*), intent(in) :: name
    character(len=:), allocatable, intent(inout) :: message
    integer :: dimid
    dim_len = 0
    if (nf90_inq_dimid(ncid, name, dimid) /= nf90_noerr) then
      message = "no dimension '"//name//"' (an E3SM domain file has ni, nj)"
    else if (nf90_inquire_dimension(ncid, dimid, len=dim_len) /= nf90_noerr) then
      message = "cannot read dimension '"//name//"'"
    end if
  end function dim_len

  subroutine get_real(ncid, name, values, message)
    integer, intent(in) :: ncid
    character(len=*), intent(in) :: name
    real(real64), intent(out) :: values(:, :)
    character(len=:), allocatable, intent(inout) :: message
    integer :: varid, st
    st = nf90_inq_varid(ncid, name, varid)
    if (st == nf90_noerr) st = nf90_get_var(ncid, varid, values)
    if (st /= nf90_noerr) message = "cannot read variable '"//name//"': "//trim(nf90_strerror(st))
  end subroutine get_real

  !> This rank's land cells (1-based global ids, ascending): 'block' or 'roundrobin'.
  subroutine decompose(dom, method, rank, nranks, ids, message)
    type(domain_t), intent(in) :: dom                      !! the domain
    character(len=*), intent(in) :: method                 !! 'block' or 'roundrobin'
    integer, intent(in) :: rank                            !! this rank, 0-based
    integer, intent(in) :: nranks                          !! number of ranks
    integer(int64), allocatable, intent(out) :: ids(:)     !! owned ids
    character(len=:), allocatable, intent(out) :: message  !! "" or the error
    integer(int64), allocatable :: land(:)
    integer :: first, last, k
    message = ""
    land = pack([(int(k, int64), k=1, dom%n)], dom%mask /= 0)
    select case (method)
    case ('block')
      first = int(int(rank, int64) * dom%n_land / nranks) + 1
      last = int(int(rank + 1, int64) * dom%n_land / nranks)
      ids = land(first:last)
    case ('roundrobin')
      ids = land(rank + 1::nranks)
    case default
      message = "decomposition = '"//trim(method)//"' is not 'block' or 'roundrobin'"
      allocate (ids(0))
    end select
  end subroutine decompose

end module hmh_grid
