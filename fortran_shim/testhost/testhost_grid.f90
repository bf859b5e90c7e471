!| The test host's regular lat-lon grid (all land), for runs without a domain file.
!
!  It has the form of a domain read from an E3SM domain file (host_domain, which also holds
!  the host's decomposition of the land cells over the ranks, 'block' or 'roundrobin').
!  Global cell ids are 1-based: cell (i, j) of an nlat x nlon grid has id (j-1)*nlon + i,
!  j counted from the south.
module testhost_grid
   use, intrinsic :: iso_fortran_env, only: real64
   use host_domain, only: e3sm_domain
   implicit none
   private
   public :: regular_grid

contains

   !> A regular lat-lon grid of nlat x nlon cells between the given edges, all land.
   subroutine regular_grid(nlat, nlon, south, north, west, east, grid)
      integer, intent(in) :: nlat, nlon                  !! numbers of rows and columns
      real(real64), intent(in) :: south, north, west, east !! outer cell edges (degrees)
      type(e3sm_domain), intent(out) :: grid             !! the grid
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

end module testhost_grid
